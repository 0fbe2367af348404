package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// liveColumn is a column as found in pg_catalog.
type liveColumn struct {
	udt     string // pg_type.typname
	length  int    // declared varchar length, 0 when none
	notNull bool
}

// liveConstraint is a constraint as found in pg_catalog.
type liveConstraint struct {
	kind      byte
	validated bool
}

// liveSchema is the part of the current schema Migrate and the drift checks look at.
type liveSchema struct {
	tables      map[string]map[string]liveColumn // table → column → column
	constraints map[string]liveConstraint        // "table.name" → constraint
	indexes     map[string]string                // index name → table
	partitioned map[string]bool                  // partitioned tables (relkind p)
	partitionOf map[string]string                // partition → its parent
}

func (l liveSchema) hasTable(name string) bool {
	_, ok := l.tables[name]
	return ok
}

func (l liveSchema) column(table, column string) (liveColumn, bool) {
	c, ok := l.tables[table][column]
	return c, ok
}

// inspect reads the tables, columns, constraints and indexes of the current
// schema (the first of search_path) from pg_catalog.
//
//nolint:funlen // one catalog query after another, filling one Inspection.
func inspect(ctx context.Context, q querier) (liveSchema, error) {
	live := liveSchema{
		tables:      map[string]map[string]liveColumn{},
		constraints: map[string]liveConstraint{},
		indexes:     map[string]string{},
		partitioned: map[string]bool{},
		partitionOf: map[string]string{},
	}
	rows, err := q.QueryContext(ctx, `
		SELECT c.relname, a.attname, t.typname, a.atttypmod, a.attnotnull, c.relkind = 'p',
		       coalesce((SELECT p.relname FROM pg_catalog.pg_inherits i
		                 JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
		                 WHERE i.inhrelid = c.oid AND c.relispartition), '')
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_attribute a
		       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`)
	if err != nil {
		return live, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var column, udt sql.NullString
		var typmod sql.NullInt64
		var notNull sql.NullBool
		var partitioned bool
		var parent string
		if err := rows.Scan(&table, &column, &udt, &typmod, &notNull, &partitioned, &parent); err != nil {
			return live, fmt.Errorf("read columns: %w", err)
		}
		if partitioned {
			live.partitioned[table] = true
		}
		if parent != "" {
			live.partitionOf[table] = parent
		}
		cols := live.tables[table]
		if cols == nil {
			cols = map[string]liveColumn{}
			live.tables[table] = cols
		}
		if !column.Valid {
			continue // a table without columns
		}
		c := liveColumn{udt: udt.String, notNull: notNull.Bool}
		if (udt.String == "varchar" || udt.String == "bpchar") && typmod.Int64 > 4 {
			c.length = int(typmod.Int64 - 4)
		}
		cols[column.String] = c
	}
	if err := rows.Err(); err != nil {
		return live, fmt.Errorf("read columns: %w", err)
	}

	rows, err = q.QueryContext(ctx, `
		SELECT c.relname, k.conname, k.contype::text, k.convalidated
		FROM pg_catalog.pg_constraint k
		JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema()`)
	if err != nil {
		return live, fmt.Errorf("read constraints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, kind string
		var validated bool
		if err := rows.Scan(&table, &name, &kind, &validated); err != nil {
			return live, fmt.Errorf("read constraints: %w", err)
		}
		var k byte
		if kind != "" {
			k = kind[0]
		}
		live.constraints[table+"."+name] = liveConstraint{kind: k, validated: validated}
	}
	if err := rows.Err(); err != nil {
		return live, fmt.Errorf("read constraints: %w", err)
	}

	rows, err = q.QueryContext(ctx, `
		SELECT c.relname, i.relname
		FROM pg_catalog.pg_index x
		JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
		JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND x.indisvalid`)
	if err != nil {
		return live, fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, name string
		if err := rows.Scan(&table, &name); err != nil {
			return live, fmt.Errorf("read indexes: %w", err)
		}
		live.indexes[name] = table
	}
	if err := rows.Err(); err != nil {
		return live, fmt.Errorf("read indexes: %w", err)
	}
	return live, nil
}

// typeName renders a live column's type the way schema.sql spells it.
func (c liveColumn) typeName() string {
	names := map[string]string{
		"int2": "smallint", "int4": "integer", "int8": "bigint",
		"float4": "real", "float8": "double precision", "bool": "boolean",
		"timestamp": "timestamp", "bpchar": "char",
	}
	n := c.udt
	if s, ok := names[n]; ok {
		n = s
	}
	if c.length > 0 {
		n += "(" + strconv.Itoa(c.length) + ")"
	}
	return n
}

// driftKind says what is wrong with a part of the schema.
type driftKind int

const (
	missingTable driftKind = iota
	missingColumn
	wrongType
	nullable
	missingConstraint
	unvalidatedConstraint
	missingIndex
)

// drift is one difference between the expected and the live schema.
type drift struct {
	kind       driftKind
	table      string
	column     *Column     // for column drifts
	constraint *Constraint // for constraint drifts
	index      *Index      // for index drifts
	have       liveColumn  // for wrongType
}

// key identifies the drift across inspections.
func (d drift) key() string {
	k := strconv.Itoa(int(d.kind)) + ":" + d.table
	switch {
	case d.column != nil:
		k += "." + d.column.Name
	case d.constraint != nil:
		k += "." + d.constraint.Name
	case d.index != nil:
		k += "." + d.index.Name
	}
	return k
}

// typeFix is the statement that gives the column of a wrongType drift its
// expected type.
func (d drift) typeFix() string {
	c := d.column
	alter := fmt.Sprintf("ALTER TABLE %s ", d.table)
	change := fmt.Sprintf("ALTER COLUMN %s TYPE %s USING %s::%s", c.Name, c.Type, c.Name, c.Type)
	if c.Default != "" {
		// A default of the old type may not cast by itself: drop and set it again.
		return alter + fmt.Sprintf("ALTER COLUMN %s DROP DEFAULT, %s, ALTER COLUMN %s SET DEFAULT %s",
			c.Name, change, c.Name, c.Default)
	}
	return alter + change
}

// describe says in a few words what is wrong.
func (d drift) describe() string {
	switch d.kind {
	case missingTable:
		return fmt.Sprintf("table %s is missing", d.table)
	case missingColumn:
		return fmt.Sprintf("column %s.%s is missing", d.table, d.column.Name)
	case wrongType:
		return fmt.Sprintf("column %s.%s has type %s, want %s", d.table, d.column.Name, d.have.typeName(), d.column.Type)
	case nullable:
		return fmt.Sprintf("column %s.%s allows NULL, want NOT NULL", d.table, d.column.Name)
	case missingConstraint:
		return fmt.Sprintf("constraint %s on %s (%s) is missing", d.constraint.Name, d.table, d.constraint.Def)
	case unvalidatedConstraint:
		return fmt.Sprintf("constraint %s on %s (%s) is not validated", d.constraint.Name, d.table, d.constraint.Def)
	case missingIndex:
		return fmt.Sprintf("index %s on %s is missing", d.index.Name, d.table)
	}
	return "unknown drift"
}

// diff lists how live differs from exp, table by table, in the order of exp.
// Extra tables, columns, constraints and indexes are not drift.
func diff(exp Schema, live liveSchema) []drift {
	var out []drift
	for ti := range exp.Tables {
		t := &exp.Tables[ti]
		if !live.hasTable(t.Name) {
			out = append(out, drift{kind: missingTable, table: t.Name})
			continue
		}
		for ci := range t.Columns {
			c := &t.Columns[ci]
			lc, ok := live.column(t.Name, c.Name)
			switch {
			case !ok:
				out = append(out, drift{kind: missingColumn, table: t.Name, column: c})
			case lc.udt != c.UDT || (c.Length > 0 && lc.length != c.Length):
				out = append(out, drift{kind: wrongType, table: t.Name, column: c, have: lc})
			case c.NotNull && !lc.notNull:
				out = append(out, drift{kind: nullable, table: t.Name, column: c})
			}
		}
	}
	for i := range exp.Constraints {
		k := &exp.Constraints[i]
		if !live.hasTable(k.Table) {
			continue
		}
		lk, ok := live.constraints[k.Table+"."+k.Name]
		switch {
		case !ok:
			out = append(out, drift{kind: missingConstraint, table: k.Table, constraint: k})
		case !lk.validated:
			out = append(out, drift{kind: unvalidatedConstraint, table: k.Table, constraint: k})
		}
	}
	for i := range exp.Indexes {
		x := &exp.Indexes[i]
		if !live.hasTable(x.Table) {
			continue
		}
		if live.indexes[x.Name] != x.Table {
			out = append(out, drift{kind: missingIndex, table: x.Table, index: x})
		}
	}
	return out
}
