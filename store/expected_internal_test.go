package store

import (
	"context"
	"database/sql"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestExpectedSchemaMatchesSchemaSQL applies schema.sql alone to a fresh
// database and checks that it has exactly what ExpectedSchema describes: no
// drift, and nothing more.
func TestExpectedSchemaMatchesSchemaSQL(t *testing.T) {
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
	exp := ExpectedSchema()
	for _, d := range diff(exp, live) {
		t.Errorf("schema.sql differs from ExpectedSchema: %s", d.describe())
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
		t.Errorf("schema.sql creates:\n%s\nExpectedSchema describes:\n%s", b, a)
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "\n"
	}
	return out
}
