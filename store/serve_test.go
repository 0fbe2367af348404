package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
)

// TestSiteName: a name is stored by AddSite, changed and removed by
// UpdateSite, validated, and migrate adds the column to a database of the
// previous release (websites without name) keeping its rows.
func TestSiteName(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id, err := db.AddSite(ctx, store.SiteInput{URL: "https://a.example/", Name: "Shop <eu>"})
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		t.Helper()
		s, err := db.SiteState(ctx, id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s.Name
	}
	if got := name(); got != "Shop <eu>" {
		t.Errorf("name %q after add", got)
	}
	for _, v := range []string{"Shop EU", ""} {
		if err := db.UpdateSite(ctx, id, store.SiteUpdate{Name: &v}); err != nil {
			t.Fatal(err)
		}
		if got := name(); got != v {
			t.Errorf("name %q after update to %q", got, v)
		}
	}
	other := "kept"
	interval := 30
	if err := db.UpdateSite(ctx, id, store.SiteUpdate{Name: &other}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSite(ctx, id, store.SiteUpdate{Interval: &interval}); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != other {
		t.Errorf("an update without a name changed it to %q", got)
	}
	for _, bad := range []string{strings.Repeat("x", store.MaxNameLength+1), "a\nb", "\x1b[31mred", "\xff"} {
		if _, err := db.AddSite(ctx, store.SiteInput{URL: "https://b.example/", Name: bad}); !errors.Is(err, store.ErrInvalidSite) {
			t.Errorf("AddSite with name %q: %v, want ErrInvalidSite", bad, err)
		}
	}

	// The previous release's websites table had no name.
	if _, err := db.SQL().ExecContext(ctx, "ALTER TABLE websites DROP COLUMN name"); err != nil {
		t.Fatal(err)
	}
	if err := schema.CheckServe(ctx, db.SQL()); err == nil || !strings.Contains(err.Error(), "websites.name: column is missing; run: sitestat migrate") {
		t.Errorf("CheckServeSchema without websites.name: %v", err)
	}
	if _, err := schema.Migrate(ctx, db, schemaSQL(t), schema.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := schema.CheckServe(ctx, db.SQL()); err != nil {
		t.Errorf("CheckServeSchema after migrate: %v", err)
	}
	if got := name(); got != "" {
		t.Errorf("name %q after migrate added the column, want empty", got)
	}
}
