package store_test

import (
	"errors"
	"testing"

	"github.com/sitestat/sitestat/store"
)

func TestCheckSchema(t *testing.T) {
	tests := []struct {
		name     string
		breakSQL string // "" for none
		want     string // the error, "" for nil
		column   string
	}{
		{name: "up to date"},
		{name: "missing table", breakSQL: "DROP TABLE website_status",
			want: "schema drift: website_status: table is missing; run: sitestat migrate"},
		{name: "missing column", breakSQL: "ALTER TABLE website_status DROP COLUMN request_info",
			want: "schema drift: website_status.request_info: column is missing; run: sitestat migrate", column: "request_info"},
		{name: "missing typed column", breakSQL: "ALTER TABLE website_status DROP COLUMN response_time_ms",
			want: "schema drift: website_status.response_time_ms: column is missing; run: sitestat migrate", column: "response_time_ms"},
		{name: "wrong type", breakSQL: "ALTER TABLE website_status ALTER COLUMN timestamp_utc TYPE text",
			want:   "schema drift: website_status.timestamp_utc: has type text, want timestamptz; run: sitestat migrate --fix-types",
			column: "timestamp_utc"},
		{name: "json instead of jsonb", breakSQL: "ALTER TABLE website_status ALTER COLUMN request_info TYPE json",
			want:   "schema drift: website_status.request_info: has type json, want jsonb; run: sitestat migrate --fix-types",
			column: "request_info"},
		{name: "no unique check_id", breakSQL: "ALTER TABLE website_status DROP CONSTRAINT website_status_check_id_key",
			want:   "schema drift: website_status.check_id: no unique constraint (sync stores each check_id once); run: sitestat migrate",
			column: "check_id"},
		{name: "an extra column is fine", breakSQL: "ALTER TABLE website_status ADD COLUMN note text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := migratedDB(t)
			if tt.breakSQL != "" {
				mustExec(t, db, tt.breakSQL)
			}
			err := db.CheckSchema(testContext(t))
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
			if !errors.Is(err, store.ErrSchemaDrift) {
				t.Errorf("errors.Is(%v, ErrSchemaDrift) = false", err)
			}
			var de *store.DriftError
			if !errors.As(err, &de) || de.Table != "website_status" || de.Column != tt.column {
				t.Errorf("DriftError = %+v, want table website_status, column %q", de, tt.column)
			}
			// And migrate (with --fix-types where asked) repairs it.
			mustMigrate(t, db, store.MigrateOptions{FixTypes: true})
			if err := db.CheckSchema(testContext(t)); err != nil {
				t.Errorf("CheckSchema after migrate = %v", err)
			}
		})
	}
}
