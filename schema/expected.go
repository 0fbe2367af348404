package schema

import "github.com/sitestat/sitestat/store"

//go:generate go run ./gen -schema ../schema.sql -out expected_gen.go

// Version is the version of schema.sql this build expects, the one the
// queries of store are written for (store.SchemaVersion); Migrate records it
// in schema_version. Bump it (in store) when a change of schema.sql needs the
// rollups rebuilt.
const Version = store.SchemaVersion

// Schema describes the tables, constraints and indexes schema.sql creates, for
// Migrate to compare with a live database and repair it, and for the drift
// checks (CheckSync, CheckServe).
type Schema struct {
	// Version is recorded in schema_version.
	Version int
	// Tables in creation order (a table comes after those it references).
	Tables []Table
	// Constraints in creation order (a primary key before the foreign keys
	// that reference it).
	Constraints []Constraint
	// Indexes that are not backing a constraint.
	Indexes []Index
}

// Table is one expected table.
type Table struct {
	// Name of the table.
	Name string
	// Columns in the order schema.sql declares them.
	Columns []Column
}

// Column is one expected column of a table.
type Column struct {
	// Name of the column.
	Name string
	// Type is the SQL type, as used in ALTER TABLE … TYPE, e.g. "varchar(2048)".
	Type string
	// UDT is the type's name in pg_type (information_schema's udt_name),
	// e.g. "varchar", "int4", "timestamptz"; it is what the check compares.
	UDT string
	// Length is the declared length of a varchar, 0 for other types.
	Length int
	// NotNull is whether the column is NOT NULL.
	NotNull bool
	// Default is the DEFAULT expression, "" for none.
	Default string
	// AddType, when set, replaces Type and Default when the column is re-added
	// (e.g. "serial", which creates its sequence and numbers existing rows).
	AddType string
	// Backfill is an SQL expression over the other columns that fills the
	// column in existing rows when it is re-added, "" when nothing can.
	Backfill string
	// BackfillFrom names the column Backfill reads (it must exist as jsonb).
	BackfillFrom string
}

// Constraint is one expected named table constraint.
type Constraint struct {
	// Table the constraint belongs to.
	Table string
	// Name of the constraint, as schema.sql names it.
	Name string
	// Kind is the pg_constraint.contype: 'p' primary key, 'u' unique,
	// 'f' foreign key, 'c' check.
	Kind byte
	// Def is the constraint definition as in ALTER TABLE … ADD CONSTRAINT name Def.
	Def string
}

// Index is one expected index that is not backing a constraint.
type Index struct {
	// Table the index belongs to.
	Table string
	// Name of the index.
	Name string
	// Create is the CREATE INDEX IF NOT EXISTS statement.
	Create string
}

// Expected returns the schema that schema.sql creates, version Version: what
// the catalog says of it (generated, expected_gen.go) and what it cannot
// (declared here: the version, the backfills).
func Expected() Schema {
	s := generated()
	s.Version = Version
	fills := backfills()
	for i := range s.Tables {
		t := &s.Tables[i]
		for j := range t.Columns {
			c := &t.Columns[j]
			if b, ok := fills[t.Name+"."+c.Name]; ok {
				c.Backfill, c.BackfillFrom = b.expr, b.from
			}
		}
	}
	return s
}

// backfill is how Migrate fills a re-added column in existing rows.
type backfill struct {
	expr string // an SQL expression over the other columns
	from string // the jsonb column expr reads
}

// backfills are, by "table.column", the columns Migrate can fill again when
// it re-adds them: website_status's typed copies of request_info. The
// catalog cannot say them; a test checks that each names a column of
// schema.sql.
func backfills() map[string]backfill {
	return map[string]backfill{
		"website_status.website_id":       {"(request_info->>'website_id')::integer", "request_info"},
		"website_status.timestamp_utc":    {"(request_info->>'checked_at')::timestamptz", "request_info"},
		"website_status.check_id":         {"(request_info->>'check_id')::uuid", "request_info"},
		"website_status.up":               {"(request_info->>'up')::boolean", "request_info"},
		"website_status.reason":           {"request_info->>'reason'", "request_info"},
		"website_status.status_code":      {"(request_info->>'status_code')::smallint", "request_info"},
		"website_status.response_time_ms": {"(request_info->>'response_time_ms')::real", "request_info"},
	}
}

// table returns the expected table called name, or nil.
func (s Schema) table(name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}
