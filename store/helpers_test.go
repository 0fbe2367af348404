package store_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// schemaSQL returns ../schema.sql, the script main embeds.
func schemaSQL(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("../schema.sql")
	if err != nil {
		tb.Fatalf("read schema.sql: %v", err)
	}
	return string(b)
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
	db := newDB(tb)
	mustMigrate(tb, db, schema.MigrateOptions{})
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

// newResult returns a valid result of the website, checked at at.
func newResult(websiteID int64, at time.Time, up bool, code int, ms float64) contract.Result {
	r := contract.Result{
		V:              contract.Version,
		CheckID:        uuid.NewString(),
		WebsiteID:      websiteID,
		URL:            "https://example.com/",
		CheckedAt:      at.UTC(),
		Probe:          "test",
		Up:             up,
		Reason:         contract.ReasonOK,
		ResponseTimeMs: ms,
		FinalURL:       "https://example.com/",
	}
	if code != 0 {
		r.StatusCode = &code
	}
	if !up {
		r.Reason = contract.ReasonHTTPStatus
		if code == 0 {
			r.Reason = contract.ReasonTimeout
		}
		r.Error = "failed"
	}
	return r
}

// contains reports whether an element of list contains sub.
func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
