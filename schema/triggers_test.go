package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// TestCheckSitesTrigger: a database of the previous release (no websites
// trigger) or one whose trigger was dropped or disabled is drift; migrate
// adds the trigger back.
func TestCheckSitesTrigger(t *testing.T) {
	for _, tc := range []struct{ name, breakSQL string }{
		{"up to date", ""},
		{"previous release", "DROP TRIGGER websites_notify ON websites; DROP FUNCTION sitestat_websites_notify()"},
		{"trigger disabled", "ALTER TABLE websites DISABLE TRIGGER websites_notify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := fixture.MigratedDB(t)
			if tc.breakSQL == "" {
				if err := schema.CheckSitesTrigger(ctx, db.SQL()); err != nil {
					t.Fatalf("CheckSitesTrigger on a migrated database: %v", err)
				}
				return
			}
			if _, err := db.SQL().ExecContext(ctx, tc.breakSQL); err != nil {
				t.Fatal(err)
			}
			err := schema.CheckSitesTrigger(ctx, db.SQL())
			var de *schema.DriftError
			if !errors.As(err, &de) || !errors.Is(err, schema.ErrDrift) || de.Fix != "sitestat migrate" {
				t.Fatalf("CheckSitesTrigger = %v, want a drift error asking for migrate", err)
			}
			if tc.name == "trigger disabled" {
				if _, err := db.SQL().ExecContext(ctx, "ALTER TABLE websites ENABLE TRIGGER websites_notify"); err != nil {
					t.Fatal(err)
				}
			} else if _, err := schema.Migrate(ctx, db, fixture.SchemaSQL(t), schema.MigrateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := schema.CheckSitesTrigger(ctx, db.SQL()); err != nil {
				t.Fatalf("CheckSitesTrigger after the repair: %v", err)
			}
		})
	}
}
