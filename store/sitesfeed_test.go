package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sitestat/sitestat/store"
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
				if err := db.CheckSitesTrigger(ctx); err != nil {
					t.Fatalf("CheckSitesTrigger on a migrated database: %v", err)
				}
				return
			}
			if _, err := db.SQL().ExecContext(ctx, tc.breakSQL); err != nil {
				t.Fatal(err)
			}
			err := db.CheckSitesTrigger(ctx)
			var de *store.DriftError
			if !errors.As(err, &de) || !errors.Is(err, store.ErrSchemaDrift) || de.Fix != "sitestat migrate" {
				t.Fatalf("CheckSitesTrigger = %v, want a drift error asking for migrate", err)
			}
			if tc.name == "trigger disabled" {
				if _, err := db.SQL().ExecContext(ctx, "ALTER TABLE websites ENABLE TRIGGER websites_notify"); err != nil {
					t.Fatal(err)
				}
			} else if _, err := db.Migrate(ctx, fixture.SchemaSQL(t), store.MigrateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := db.CheckSitesTrigger(ctx); err != nil {
				t.Fatalf("CheckSitesTrigger after the repair: %v", err)
			}
		})
	}
}

// TestSitesLock: one session at a time holds the publisher's lock; a
// released lock can be taken again.
func TestSitesLock(t *testing.T) {
	ctx := context.Background()
	db, _ := fixture.MigratedDB(t)
	a, err := db.TryLockSites(ctx)
	if err != nil || a == nil {
		t.Fatalf("first TryLockSites = %v, %v", a, err)
	}
	if err := a.Held(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := db.TryLockSites(ctx); err != nil || b != nil {
		t.Fatalf("second TryLockSites while held = %v, %v; want nil, nil", b, err)
	}
	a.Release(ctx)
	c, err := db.TryLockSites(ctx)
	if err != nil || c == nil {
		t.Fatalf("TryLockSites after release = %v, %v", c, err)
	}
	c.Release(ctx)
}
