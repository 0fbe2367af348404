package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrSchemaDrift is matched (errors.Is) by every *DriftError.
var ErrSchemaDrift = errors.New("schema drift")

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

// Is makes errors.Is(err, ErrSchemaDrift) true.
func (e *DriftError) Is(target error) bool { return target == ErrSchemaDrift }

// CheckSchema checks that the website_status table exists with every column
// InsertResults writes, each of the expected type (compared by udt name), and
// a unique index on check_id (its ON CONFLICT needs one). It returns nil, a
// *DriftError for the first problem found, or an error reading the catalog.
func (db *DB) CheckSchema(ctx context.Context) error {
	live, err := inspect(ctx, db.db)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	exp := ExpectedSchema()
	t := exp.table("website_status")
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
	var unique bool
	err = db.db.QueryRowContext(ctx, `
		SELECT EXISTS (
			SELECT 1
			FROM pg_catalog.pg_index x
			JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
			WHERE n.nspname = current_schema() AND c.relname = 'website_status'
			  AND x.indisunique AND x.indisvalid AND x.indnkeyatts = 1 AND x.indpred IS NULL
			  AND x.indexprs IS NULL AND a.attname = 'check_id')`).Scan(&unique)
	if err != nil {
		return fmt.Errorf("check schema: read indexes: %w", err)
	}
	if !unique {
		return &DriftError{Table: t.Name, Column: "check_id", Problem: "no unique constraint (sync stores each check_id once)", Fix: "sitestat migrate"}
	}
	return nil
}
