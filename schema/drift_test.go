package schema_test

import (
	"errors"
	"testing"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/testutil/fixture"
)

func TestCheckSchema(t *testing.T) {
	tests := []struct {
		name     string
		breakSQL string // "" for none
		want     string // the error, "" for nil
		column   string
		table    string // "" for website_status
	}{
		{name: "up to date"},
		{name: "missing table", breakSQL: "DROP TABLE website_status",
			want: "schema drift: website_status: table is missing; run: sitestat migrate"},
		{name: "missing column", breakSQL: "ALTER TABLE website_status DROP COLUMN request_info",
			want: "schema drift: website_status.request_info: column is missing; run: sitestat migrate", column: "request_info"},
		{name: "missing typed column", breakSQL: "ALTER TABLE website_status DROP COLUMN response_time_ms",
			want: "schema drift: website_status.response_time_ms: column is missing; run: sitestat migrate", column: "response_time_ms"},
		{name: "wrong type", breakSQL: "ALTER TABLE website_status ALTER COLUMN reason TYPE varchar(40)",
			want:   "schema drift: website_status.reason: has type varchar(40), want text; run: sitestat migrate --fix-types",
			column: "reason"},
		{name: "json instead of jsonb", breakSQL: "ALTER TABLE website_status ALTER COLUMN request_info TYPE json",
			want:   "schema drift: website_status.request_info: has type json, want jsonb; run: sitestat migrate --fix-types",
			column: "request_info"},
		{name: "no unique check_id", breakSQL: "ALTER TABLE website_status DROP CONSTRAINT website_status_check_id_timestamp_utc_key",
			want:   "schema drift: website_status.check_id,timestamp_utc: no unique constraint on (check_id, timestamp_utc) (sync stores each once); run: sitestat migrate",
			column: "check_id,timestamp_utc"},
		{name: "not partitioned", breakSQL: "CREATE TABLE ws_copy (LIKE website_status INCLUDING ALL); DROP TABLE website_status; ALTER TABLE ws_copy RENAME TO website_status",
			want: "schema drift: website_status: is not partitioned by day (a version 1 table); run: sitestat migrate"},
		{name: "missing state table", breakSQL: "DROP TABLE site_probe_state", table: "site_probe_state",
			want: "schema drift: site_probe_state: table is missing; run: sitestat migrate"},
		{name: "missing rollup column", breakSQL: "ALTER TABLE website_status_hourly DROP COLUMN rt_hist", table: "website_status_hourly",
			column: "rt_hist",
			want:   "schema drift: website_status_hourly.rt_hist: column is missing; run: sitestat migrate"},
		{name: "rollup without its key", breakSQL: "ALTER TABLE website_status_daily DROP CONSTRAINT website_status_daily_pkey",
			table: "website_status_daily", column: "website_id,probe,day",
			want: "schema drift: website_status_daily.website_id,probe,day: no unique constraint on (website_id, probe, day) (sync stores each once); run: sitestat migrate"},
		{name: "missing merge table", breakSQL: "DROP TABLE rollup_fold", table: "rollup_fold",
			want: "schema drift: rollup_fold: table is missing; run: sitestat migrate"},
		{name: "merge row lost", breakSQL: "DELETE FROM rollup_fold", table: "rollup_fold",
			want: "schema drift: rollup_fold: has 0 rows, want 1 (which hours are merged into days); run: sitestat migrate, then sitestat rollup --rebuild"},
		{name: "an extra column is fine", breakSQL: "ALTER TABLE website_status ADD COLUMN note text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := migratedDB(t)
			if tt.breakSQL != "" {
				fixture.Exec(t, db, tt.breakSQL)
			}
			err := schema.CheckSync(testContext(t), db.SQL())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckSchema = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckSchema = nil, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("CheckSchema =\n%q, want\n%q", got, tt.want)
			}
			if !errors.Is(err, schema.ErrDrift) {
				t.Errorf("errors.Is(%v, ErrSchemaDrift) = false", err)
			}
			var de *schema.DriftError
			table := tt.table
			if table == "" {
				table = "website_status"
			}
			if !errors.As(err, &de) || de.Table != table || de.Column != tt.column {
				t.Errorf("DriftError = %+v, want table %s, column %q", de, table, tt.column)
			}
			// And migrate (with --fix-types where asked) repairs it.
			mustMigrate(t, db, schema.MigrateOptions{FixTypes: true})
			if err := schema.CheckSync(testContext(t), db.SQL()); err != nil {
				t.Errorf("CheckSchema after migrate = %v", err)
			}
		})
	}
}
