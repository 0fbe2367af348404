package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// schemaSQL returns ../schema.sql, the script main embeds.
func schemaSQL(tb testing.TB) string {
	tb.Helper()
	return fixture.SchemaSQL(tb)
}

// testContext returns a context that ends with the test or after a minute.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// openDB opens dbURL as a *store.DB closed when the test ends.
func openDB(tb testing.TB, dbURL string) *store.DB {
	tb.Helper()
	db, err := store.Open(testContext(tb), dbURL, store.Options{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newDB returns a fresh, empty database.
func newDB(tb testing.TB) *store.DB {
	tb.Helper()
	return openDB(tb, testenv.NewDatabase(tb))
}

// migratedDB returns a fresh database with the schema applied.
func migratedDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, _ := fixture.MigratedDB(tb)
	return db
}

func mustMigrate(tb testing.TB, db *store.DB, opts schema.MigrateOptions) schema.Report {
	tb.Helper()
	rep, err := schema.Migrate(testContext(tb), db, schemaSQL(tb), opts)
	if err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return rep
}

// newResult returns a valid result of the website, checked at at: up with
// status code code, or down (http_status, or timeout without a code).
func newResult(websiteID int64, at time.Time, up bool, code int, ms float64) contract.Result {
	r := fixture.Result(websiteID)
	r.CheckedAt, r.Up, r.ResponseTimeMs, r.StatusCode = at.UTC(), up, ms, nil
	if code != 0 {
		r.StatusCode = &code
	}
	if !up {
		r.Reason, r.Error = contract.ReasonHTTPStatus, "failed"
		if code == 0 {
			r.Reason = contract.ReasonTimeout
		}
	}
	return r
}

// schemaSnapshot describes every column, constraint and index of the
// current schema, one sorted line each.
func schemaSnapshot(tb testing.TB, db *store.DB) string {
	tb.Helper()
	var s string
	err := db.SQL().QueryRowContext(testContext(tb), `
		SELECT coalesce(string_agg(x, E'\n' ORDER BY x), '') FROM (
			SELECT format('column %s.%s %s(%s) nullable=%s default=%s', table_name, column_name, udt_name,
			              character_maximum_length, is_nullable, column_default) AS x
			FROM information_schema.columns WHERE table_schema = current_schema()
			UNION ALL
			SELECT format('constraint %s %s %s valid=%s', conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
			UNION ALL
			SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = current_schema()
		) s`).Scan(&s)
	if err != nil {
		tb.Fatalf("schema snapshot: %v", err)
	}
	return s
}
