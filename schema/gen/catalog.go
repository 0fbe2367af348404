package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// catalog is what schema.sql created, read from pg_catalog: the fields of
// schema.Schema the catalog can say.
type catalog struct {
	tables      []table
	constraints []constraint
	indexes     []index
}

type table struct {
	name    string
	columns []column
}

type column struct {
	name, typ, udt string
	length         int
	notNull        bool
	def, addType   string
}

type constraint struct {
	table, name string
	kind        byte
	def         string
}

type index struct {
	table, name, create string
}

// readCatalog reads the tables (in creation order, partitions left out),
// their columns, the named constraints (in creation order, so a key comes
// before the foreign keys that reference it) and the indexes that back no
// constraint, of the current schema.
func readCatalog(ctx context.Context, db *sql.DB) (catalog, error) {
	var c catalog
	var err error
	if c.tables, err = readTables(ctx, db); err != nil {
		return c, err
	}
	if c.constraints, err = readConstraints(ctx, db); err != nil {
		return c, err
	}
	if c.indexes, err = readIndexes(ctx, db); err != nil {
		return c, err
	}
	return c, nil
}

func readTables(ctx context.Context, db *sql.DB) ([]table, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT c.oid, c.relname
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.oid`)
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	defer rows.Close()
	type rel struct {
		oid  int64
		name string
	}
	var rels []rel
	for rows.Next() {
		var r rel
		if err := rows.Scan(&r.oid, &r.name); err != nil {
			return nil, fmt.Errorf("read tables: %w", err)
		}
		rels = append(rels, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	var out []table
	for _, r := range rels {
		cols, err := readColumns(ctx, db, r.oid)
		if err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", r.name, err)
		}
		out = append(out, table{name: r.name, columns: cols})
	}
	return out, nil
}

func readColumns(ctx context.Context, db *sql.DB, rel int64) ([]column, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), t.typname, a.atttypmod,
		       a.attnotnull, coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''),
		       pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) IS NOT NULL,
		       a.attidentity <> '' OR a.attgenerated <> ''
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, rel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		var typmod int
		var serial, special bool
		if err := rows.Scan(&c.name, &c.typ, &c.udt, &typmod, &c.notNull, &c.def, &serial, &special); err != nil {
			return nil, err
		}
		if special {
			return nil, fmt.Errorf("column %s is an identity or generated column, which schema.Column cannot describe", c.name)
		}
		if (c.udt == "varchar" || c.udt == "bpchar") && typmod > 4 {
			c.length = typmod - 4
		}
		c.typ = shortType(c.typ)
		c.def = bareLiteral(c.def, c.typ)
		if serial {
			c.addType = serialType(c.udt)
			c.def = ""
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// shortNames are the spellings schema.sql uses for the types format_type
// spells out.
var shortNames = []struct{ long, short string }{
	{"timestamp with time zone", "timestamptz"},
	{"timestamp without time zone", "timestamp"},
	{"time with time zone", "timetz"},
	{"character varying", "varchar"},
}

// shortType returns format_type's type name as schema.sql spells it, e.g.
// "varchar(2048)" for "character varying(2048)".
func shortType(t string) string {
	for _, n := range shortNames {
		if strings.HasPrefix(t, n.long) {
			return n.short + t[len(n.long):]
		}
	}
	return t
}

// castLiteral is a quoted literal followed by a cast.
var castLiteral = regexp.MustCompile(`^('(?:[^']|'')*')::(.+)$`)

// bareLiteral drops the cast PostgreSQL adds to a literal default of the
// column's own type: "'default'::text" becomes "'default'", as schema.sql
// wrote it.
func bareLiteral(def, typ string) string {
	if m := castLiteral.FindStringSubmatch(def); m != nil && shortType(m[2]) == typ {
		return m[1]
	}
	return def
}

// serialType is the pseudo-type that re-adds a column numbered from its own
// sequence.
func serialType(udt string) string {
	switch udt {
	case "int2":
		return "smallserial"
	case "int8":
		return "bigserial"
	}
	return "serial"
}

func readConstraints(ctx context.Context, db *sql.DB) ([]constraint, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT c.relname, k.conname, k.contype::text, pg_catalog.pg_get_constraintdef(k.oid)
		FROM pg_catalog.pg_constraint k
		JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND k.contype IN ('p', 'u', 'f', 'c', 'x')
		ORDER BY k.oid`)
	if err != nil {
		return nil, fmt.Errorf("read constraints: %w", err)
	}
	defer rows.Close()
	var out []constraint
	for rows.Next() {
		var k constraint
		var kind string
		if err := rows.Scan(&k.table, &k.name, &kind, &k.def); err != nil {
			return nil, fmt.Errorf("read constraints: %w", err)
		}
		k.kind = kind[0]
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read constraints: %w", err)
	}
	return out, nil
}

// indexDef splits pg_get_indexdef's statement: CREATE [UNIQUE] INDEX name
// ON [ONLY] schema.table rest.
var indexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX (\S+) ON (?:ONLY )?(?:\S+\.)?(\S+) (.+)$`)

func readIndexes(ctx context.Context, db *sql.DB) ([]index, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT c.relname, i.relname, pg_catalog.pg_get_indexdef(x.indexrelid)
		FROM pg_catalog.pg_index x
		JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
		JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema()
		  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
		                  WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
		ORDER BY i.oid`)
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var x index
		var def string
		if err := rows.Scan(&x.table, &x.name, &def); err != nil {
			return nil, fmt.Errorf("read indexes: %w", err)
		}
		// Rebuilt as an idempotent statement that covers the partitions too
		// (pg_get_indexdef says ON ONLY for a partitioned table's index).
		m := indexDef.FindStringSubmatch(def)
		if m == nil || m[2] != x.name || m[3] != x.table {
			return nil, fmt.Errorf("read indexes: unexpected definition of %s: %s", x.name, def)
		}
		x.create = fmt.Sprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s %s", m[1], x.name, x.table, m[4])
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	return out, nil
}
