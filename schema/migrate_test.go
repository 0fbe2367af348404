package schema_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

func TestMigrateTwice(t *testing.T) {
	db := newDB(t)
	first := mustMigrate(t, db, schema.MigrateOptions{})
	if first.UpToDate() {
		t.Fatalf("first migrate of an empty database reports up to date: %q", first.Lines())
	}
	for _, want := range []string{"create table websites", "create table website_status", "create table schema_version", "create table site_probe_state", "create table website_status_hourly", "create table website_status_daily", "create partition website_status_", "record schema version 3"} {
		if !contains(first.Actions, want) {
			t.Errorf("first migrate actions %q lack %q", first.Actions, want)
		}
	}
	if len(first.Problems) > 0 {
		t.Errorf("first migrate problems: %q", first.Problems)
	}
	if got, want := first.Version, schema.Version; got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
	snap := schemaSnapshot(t, db)

	second := mustMigrate(t, db, schema.MigrateOptions{})
	if !second.UpToDate() || len(second.Statements) > 0 {
		t.Fatalf("second migrate: actions %q, statements %q, problems %q; want none", second.Actions, second.Statements, second.Problems)
	}
	if got, want := second.Lines(), []string{"schema is up to date (version 3)"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if got := schemaSnapshot(t, db); got != snap {
		t.Errorf("second migrate changed the schema:\nbefore:\n%s\nafter:\n%s", snap, got)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM schema_version"); n != 1 {
		t.Errorf("schema_version has %d rows, want 1", n)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	dbURL := testenv.NewDatabase(t)
	db1, db2 := openDB(t, dbURL), openDB(t, dbURL)
	var wg sync.WaitGroup
	reports := make([]schema.Report, 2)
	errs := make([]error, 2)
	for i, db := range []*store.DB{db1, db2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = schema.Migrate(testContext(t), db, schemaSQL(t), schema.MigrateOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	if reports[0].UpToDate() == reports[1].UpToDate() {
		t.Errorf("want exactly one migrate to create the schema; up to date: %t and %t", reports[0].UpToDate(), reports[1].UpToDate())
	}
	if n := fixture.Count(t, db1, "SELECT count(*) FROM schema_version"); n != 1 {
		t.Errorf("schema_version has %d rows, want 1", n)
	}
}

func TestMigrateDryRun(t *testing.T) {
	db := newDB(t)
	rep := mustMigrate(t, db, schema.MigrateOptions{DryRun: true})
	if !rep.DryRun || rep.UpToDate() || len(rep.Statements) == 0 {
		t.Fatalf("dry run report: %+v", rep)
	}
	if got := rep.Lines(); !strings.HasPrefix(got[0], "would create table") || got[len(got)-1] != "dry run: nothing was changed" {
		t.Errorf("dry run lines = %q", got)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"); n != 0 {
		t.Fatalf("dry run left %d tables", n)
	}

	mustMigrate(t, db, schema.MigrateOptions{})
	fixture.Exec(t, db, "ALTER TABLE website_status DROP COLUMN request_info")
	snap := schemaSnapshot(t, db)
	rep = mustMigrate(t, db, schema.MigrateOptions{DryRun: true})
	if !contains(rep.Statements, "ALTER TABLE website_status ADD COLUMN request_info jsonb") {
		t.Errorf("dry run statements %q lack the ADD COLUMN", rep.Statements)
	}
	if got := schemaSnapshot(t, db); got != snap {
		t.Errorf("dry run changed the schema:\nbefore:\n%s\nafter:\n%s", snap, got)
	}
}

func TestMigrateRepairs(t *testing.T) {
	// rows adds two results, so that repairs meet existing data.
	rows := func(t *testing.T, db *store.DB) {
		id := fixture.AddSite(t, db, "https://example.com/")
		now := time.Now()
		if _, err := db.InsertResults(testContext(t), []contract.Result{
			newResult(id, now, true, 200, 12.5), newResult(id, now.Add(time.Second), false, 503, 40),
		}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		data     bool
		breakSQL string
		opts     schema.MigrateOptions
		actions  []string // substrings of actions, in order
		problem  string   // substring of the first problem left, "" for none
		problems int      // how many problems are left when problem is set; 0 means 1
		check    string   // a query that must return true afterwards
	}{
		{name: "dropped column on an empty table", breakSQL: "ALTER TABLE website_status DROP COLUMN request_info",
			actions: []string{"add column website_status.request_info (jsonb)", "set website_status.request_info NOT NULL"}},
		{name: "dropped column without a source", data: true, breakSQL: "ALTER TABLE website_status DROP COLUMN request_info",
			actions: []string{"add column website_status.request_info (jsonb)"},
			problem: "column website_status.request_info allows NULL, want NOT NULL: 2 rows have no value"},
		{name: "dropped column filled from request_info", data: true, breakSQL: "ALTER TABLE website_status DROP COLUMN up",
			actions: []string{"add column website_status.up (boolean)", "fill website_status.up from request_info", "set website_status.up NOT NULL"},
			check:   "SELECT count(*) = 2 AND count(*) FILTER (WHERE up) = 1 FROM website_status"},
		{name: "dropped check_id and its unique constraint", data: true, breakSQL: "ALTER TABLE website_status DROP COLUMN check_id",
			actions: []string{"add column website_status.check_id (uuid)", "fill website_status.check_id",
				"set website_status.check_id NOT NULL", "add constraint website_status_check_id_timestamp_utc_key"},
			check: "SELECT bool_and(check_id::text = request_info->>'check_id') FROM website_status"},
		{name: "dropped index", data: true, breakSQL: "DROP INDEX website_status_site_time_idx",
			actions: []string{"create index website_status_site_time_idx on website_status"}},
		{name: "dropped table", data: true, breakSQL: "DROP TABLE website_status",
			actions: []string{"create table website_status"}},
		{name: "dropped referenced table", breakSQL: "DROP TABLE websites CASCADE",
			actions: []string{"create table websites", "add constraint website_status_website_id_fkey",
				"add constraint site_probe_state_website_id_fkey", "validate constraint site_probe_state_website_id_fkey"}},
		{name: "dropped referenced table with orphans", data: true, breakSQL: "DROP TABLE websites CASCADE",
			actions: []string{"create table websites"},
			problem: "could not add constraint website_status_website_id_fkey",
			// website_status, site_probe_state and website_status_hourly
			// (the rows of this hour are not merged into days yet).
			problems: 3},
		{name: "dropped unique constraint", data: true, breakSQL: "ALTER TABLE website_status DROP CONSTRAINT website_status_check_id_timestamp_utc_key",
			actions: []string{"add constraint website_status_check_id_timestamp_utc_key on website_status: UNIQUE (check_id, timestamp_utc)"}},
		{name: "dropped check constraint", breakSQL: "ALTER TABLE websites DROP CONSTRAINT websites_url_check",
			actions: []string{"add constraint websites_url_check", "validate constraint websites_url_check"}},
		{name: "dropped NOT NULL", data: true, breakSQL: "ALTER TABLE website_status ALTER COLUMN reason DROP NOT NULL",
			actions: []string{"set website_status.reason NOT NULL"}},
		{name: "wrong type reported", data: true, breakSQL: "ALTER TABLE website_status ALTER COLUMN status_code TYPE text",
			problem: "column website_status.status_code has type text, want smallint; run: sitestat migrate --fix-types, which runs: " +
				"ALTER TABLE website_status ALTER COLUMN status_code TYPE smallint USING status_code::smallint",
			check: "SELECT data_type = 'text' FROM information_schema.columns WHERE table_name = 'website_status' AND column_name = 'status_code'"},
		{name: "wrong type fixed", data: true, breakSQL: "ALTER TABLE website_status ALTER COLUMN status_code TYPE text",
			opts:    schema.MigrateOptions{FixTypes: true},
			actions: []string{"change type of website_status.status_code from text to smallint"}},
		{name: "wrong length fixed", breakSQL: "ALTER TABLE websites ALTER COLUMN url TYPE varchar(100)",
			opts:    schema.MigrateOptions{FixTypes: true},
			actions: []string{"change type of websites.url from varchar(100) to varchar(2048)"}},
		{name: "wrong type with a default fixed", breakSQL: "ALTER TABLE websites ALTER COLUMN check_interval TYPE bigint",
			opts:    schema.MigrateOptions{FixTypes: true},
			actions: []string{"change type of websites.check_interval from bigint to integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := migratedDB(t)
			if tt.data {
				rows(t, db)
			}
			fixture.Exec(t, db, tt.breakSQL)
			rep := mustMigrate(t, db, tt.opts)
			for _, l := range rep.Lines() {
				t.Log(l)
			}
			if !inOrder(rep.Actions, tt.actions) {
				t.Errorf("actions = %q, want in order %q", rep.Actions, tt.actions)
			}
			switch {
			case tt.problem == "" && len(rep.Problems) > 0:
				t.Errorf("problems = %q, want none", rep.Problems)
			case tt.problem != "" && (len(rep.Problems) != max(1, tt.problems) || !contains(rep.Problems, tt.problem)):
				t.Errorf("problems = %q, want %d, one containing %q", rep.Problems, max(1, tt.problems), tt.problem)
			}
			if tt.check != "" {
				var ok bool
				if err := db.SQL().QueryRowContext(testContext(t), tt.check).Scan(&ok); err != nil || !ok {
					t.Errorf("%s: %t, %v", tt.check, ok, err)
				}
			}
			again := mustMigrate(t, db, tt.opts)
			if tt.problem == "" && !again.UpToDate() {
				t.Errorf("migrate after the repair: actions %q, problems %q; want up to date", again.Actions, again.Problems)
			}
			if tt.problem != "" && (len(again.Actions) > 0 || len(again.Problems) != max(1, tt.problems)) {
				t.Errorf("migrate again: actions %q, problems %q; want the same problem only", again.Actions, again.Problems)
			}
		})
	}
}

func TestMigrateRefusesNewerVersion(t *testing.T) {
	db := migratedDB(t)
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES (99)")
	_, err := schema.Migrate(testContext(t), db, schemaSQL(t), schema.MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99, newer than this build's 3") {
		t.Fatalf("migrate = %v, want a newer-version error", err)
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// inOrder reports whether each of subs is contained in an element of list,
// in order.
func inOrder(list, subs []string) bool {
	i := 0
	for _, s := range list {
		if i < len(subs) && strings.Contains(s, subs[i]) {
			i++
		}
	}
	return i == len(subs)
}
