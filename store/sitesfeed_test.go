package store_test

import (
	"context"
	"testing"

	"github.com/sitestat/sitestat/testutil/fixture"
)

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
