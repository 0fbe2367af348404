package schema

import (
	"context"
	"database/sql"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestExpectedMatchesSchemaSQL applies schema.sql alone to a fresh
// database and checks that it has exactly what Expected describes: no
// drift, and nothing more.
func TestExpectedMatchesSchemaSQL(t *testing.T) {
	script, err := os.ReadFile("../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, string(script)); err != nil {
		t.Fatalf("apply schema.sql: %v", err)
	}
	if _, err := db.ExecContext(ctx, string(script)); err != nil {
		t.Fatalf("apply schema.sql a second time: %v", err)
	}
	live, err := inspect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	exp := Expected()
	for _, d := range diff(exp, live) {
		t.Errorf("schema.sql differs from Expected: %s", d.describe())
	}

	var want, got []string
	for _, tb := range exp.Tables {
		for _, c := range tb.Columns {
			want = append(want, "column "+tb.Name+"."+c.Name)
		}
	}
	for table, cols := range live.tables {
		for c := range cols {
			got = append(got, "column "+table+"."+c)
		}
	}
	for _, k := range exp.Constraints {
		want = append(want, "constraint "+k.Table+"."+k.Name)
	}
	for k := range live.constraints {
		got = append(got, "constraint "+k)
	}
	for _, x := range exp.Indexes {
		want = append(want, "index "+x.Name)
	}
	for name, table := range live.indexes {
		if _, ok := live.constraints[table+"."+name]; !ok {
			got = append(got, "index "+name)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if a, b := join(want), join(got); a != b {
		t.Errorf("schema.sql creates:\n%s\nExpected describes:\n%s", b, a)
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "\n"
	}
	return out
}

// TestBackfillsNameColumns: each backfill declared by hand names a column of
// schema.sql and reads a jsonb column of the same table, so a column renamed
// in schema.sql cannot leave its backfill behind unnoticed.
func TestBackfillsNameColumns(t *testing.T) {
	exp := Expected()
	for key, b := range backfills() {
		name, col, _ := strings.Cut(key, ".")
		tb := exp.table(name)
		if tb == nil {
			t.Errorf("backfill %s: no table %s in schema.sql", key, name)
			continue
		}
		var found, from *Column
		for i := range tb.Columns {
			switch tb.Columns[i].Name {
			case col:
				found = &tb.Columns[i]
			case b.from:
				from = &tb.Columns[i]
			}
		}
		switch {
		case found == nil:
			t.Errorf("backfill %s: no column %s in schema.sql", key, col)
		case from == nil || from.UDT != "jsonb":
			t.Errorf("backfill %s: reads %s, which is not a jsonb column of %s", key, b.from, name)
		case found.Backfill != b.expr || found.BackfillFrom != b.from:
			t.Errorf("backfill %s: Expected has %q from %q", key, found.Backfill, found.BackfillFrom)
		}
	}
}
