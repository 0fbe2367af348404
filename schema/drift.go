package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/store"
)

// ErrDrift is matched (errors.Is) by every *DriftError.
var ErrDrift = errors.New("schema drift")

// DriftError says how the live schema differs from what `sitestat sync`
// writes. Its message is one line ending with the command that repairs it.
type DriftError struct {
	// Table is the table concerned.
	Table string
	// Column is the column concerned, "" when the whole table is missing.
	Column string
	// Problem says what is wrong, e.g. "column is missing" or
	// "has type text, want timestamptz".
	Problem string
	// Fix is the command that repairs it, e.g. "sitestat migrate --fix-types".
	Fix string
}

// Error returns e.g. "schema drift: website_status.request_info: column is
// missing; run: sitestat migrate".
func (e *DriftError) Error() string {
	where := e.Table
	if e.Column != "" {
		where += "." + e.Column
	}
	return fmt.Sprintf("schema drift: %s: %s; run: %s", where, e.Problem, e.Fix)
}

// Is makes errors.Is(err, ErrDrift) true.
func (e *DriftError) Is(target error) bool { return target == ErrDrift }

// conflictKeys are the unique keys sync's ON CONFLICT clauses name, by table.
var conflictKeys = map[string][]string{
	"website_status":        {"check_id", "timestamp_utc"},
	"site_probe_state":      {"website_id", "probe"},
	"website_status_hourly": {"website_id", "probe", "hour"},
	"website_status_daily":  {"website_id", "probe", "day"},
	"website_status_window": {"website_id", "days"},
	"notifications":         {"incident_id", "event", "channel"},
	"probes":                {"name"},
}

// syncTables are the tables sync writes, in the order CheckSync checks them.
var syncTables = []string{"website_status", "site_probe_state", "website_status_hourly", "website_status_daily",
	"website_status_window", "rollup_fold", "incidents", "notifications", "maintenance_windows", "probes"}

// CheckSync checks that the tables sync writes (website_status,
// site_probe_state, the rollups, incidents and the notification outbox) exist with every column
// it writes, each of the expected type (compared by udt name), that
// website_status is partitioned, and that each has the unique key its ON
// CONFLICT names; and what the incident work of InsertResults reads and
// names: the websites' alert thresholds and the unique index of open
// incidents; and the triggers that resolve the incidents of a website
// removed or with alerting turned off (checkRemovalTriggers). It returns nil, a *DriftError for the first problem found,
// or an error reading the catalog.
func CheckSync(ctx context.Context, db *sql.DB) error {
	live, err := inspect(ctx, db)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	exp := Expected()
	for _, name := range syncTables {
		t := exp.table(name)
		if err := checkTable(live, t); err != nil {
			return err
		}
		if name == "website_status" && !live.partitioned[name] {
			return &DriftError{Table: t.Name, Problem: "is not partitioned by day (a version 1 table)", Fix: "sitestat migrate"}
		}
		key := conflictKeys[name]
		if key == nil {
			continue
		}
		var unique bool
		err = db.QueryRowContext(ctx, `
			SELECT EXISTS (
				SELECT 1
				FROM pg_catalog.pg_index x
				JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = current_schema() AND c.relname = $1
				  AND x.indisunique AND x.indisvalid AND x.indpred IS NULL AND x.indexprs IS NULL
				  AND x.indnkeyatts = cardinality($2::text[])
				  AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
				       FROM pg_catalog.pg_attribute a
				       WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey::int2[]))
				      = (SELECT array_agg(k ORDER BY k) FROM unnest($2::text[]) k))`,
			name, pq.Array(key)).Scan(&unique)
		if err != nil {
			return fmt.Errorf("check schema: read indexes: %w", err)
		}
		if !unique {
			return &DriftError{Table: t.Name, Column: strings.Join(key, ","),
				Problem: "no unique constraint on (" + strings.Join(key, ", ") + ") (sync stores each once)", Fix: "sitestat migrate"}
		}
	}
	var foldRows int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM rollup_fold").Scan(&foldRows); err != nil {
		return fmt.Errorf("check schema: read rollup_fold: %w", err)
	}
	if foldRows != 1 {
		return &DriftError{Table: "rollup_fold", Problem: fmt.Sprintf("has %d rows, want 1 (which hours are merged into days)", foldRows),
			Fix: "sitestat migrate, then sitestat rollup --rebuild"}
	}
	for _, col := range []string{"alert_after", "recover_after"} {
		if _, ok := live.column("websites", col); !ok {
			return &DriftError{Table: "websites", Column: col, Problem: "column is missing", Fix: "sitestat migrate"}
		}
	}
	for _, open := range []string{"incidents_open_site_idx", "incidents_open_probe_idx"} {
		if live.indexes[open] != "incidents" {
			return &DriftError{Table: "incidents", Problem: "unique index " + open + " is missing (an incident could open twice)", Fix: "sitestat migrate"}
		}
	}
	return checkRemovalTriggers(ctx, db)
}

// checkTable checks that live has table t with every column of it, each of
// the expected type (compared by udt name).
func checkTable(live liveSchema, t *Table) error {
	if !live.hasTable(t.Name) {
		return &DriftError{Table: t.Name, Problem: "table is missing", Fix: "sitestat migrate"}
	}
	for _, c := range t.Columns {
		lc, ok := live.column(t.Name, c.Name)
		switch {
		case !ok:
			return &DriftError{Table: t.Name, Column: c.Name, Problem: "column is missing", Fix: "sitestat migrate"}
		case lc.udt != c.UDT || (c.Length > 0 && lc.length != c.Length):
			return &DriftError{Table: t.Name, Column: c.Name,
				Problem: fmt.Sprintf("has type %s, want %s", lc.typeName(), c.Type), Fix: "sitestat migrate --fix-types"}
		}
	}
	return nil
}

// serveTables are the tables `sitestat serve` reads.
var serveTables = []string{"websites", "site_probe_state", "website_status_hourly", "website_status_daily", "rollup_fold", "incidents", "notifications"}

// CheckServe checks that the tables `sitestat serve` reads exist with every
// column it reads, each of the expected type. It returns nil, a *DriftError
// for the first problem found, or an error reading the catalog.
func CheckServe(ctx context.Context, db *sql.DB) error {
	live, err := inspect(ctx, db)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	exp := Expected()
	for _, name := range serveTables {
		if err := checkTable(live, exp.table(name)); err != nil {
			return err
		}
	}
	return nil
}

// SyncDB is the database sync writes through: a *store.DB whose CheckSchema
// is CheckSync. It satisfies sink.Writer (store cannot: it does not import
// this package).
type SyncDB struct{ *store.DB }

// CheckSchema runs CheckSync on the store's connection pool.
func (d SyncDB) CheckSchema(ctx context.Context) error { return CheckSync(ctx, d.SQL()) }
