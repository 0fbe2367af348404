package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/web"
)

// TestPageShowsTheIncidentOpenAfterAWindow (issue 18 item 10): a site that
// failed through a maintenance window and fails on after it is down on the
// page, not "in maintenance", with an incident that started at the first
// failure after the window.
func TestPageShowsTheIncidentOpenAfterAWindow(t *testing.T) {
	_, dbURL := fixture.MigratedDB(t)
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{Alerts: store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	base := now.Truncate(time.Minute).Add(-10 * time.Minute)
	if _, err := db.EnsurePartitions(ctx, base, now); err != nil {
		t.Fatal(err)
	}
	site, err := db.AddSite(ctx, store.SiteInput{URL: "https://planned.example/", Interval: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{WebsiteID: site, From: base, Until: base.Add(5 * time.Minute)}, base); err != nil {
		t.Fatal(err)
	}
	var rs []contract.Result
	for at := base; !at.After(now); at = at.Add(30 * time.Second) {
		r := fixture.Result(site)
		r.CheckID, r.CheckedAt, r.Up, r.Reason, r.StatusCode = uuid.NewString(), at, false, contract.ReasonHTTPStatus, nil
		rs = append(rs, r)
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	h := web.New(db, web.Options{PublicURLs: true})
	started := base.Add(5 * time.Minute).Format("2006-01-02 15:04")
	for _, path := range []string{"/sites/" + itoa(site), "/incidents"} {
		_, body := get(t, h, path)
		if path != "/incidents" && !strings.Contains(body, "down: http_status") {
			t.Errorf("%s does not show the site down after its window", path)
		}
		if strings.Contains(body, "in maintenance") {
			t.Errorf("%s says in maintenance after the window ended", path)
		}
		i := strings.Index(body, `<table class="incidents"`)
		if i < 0 {
			t.Fatalf("%s has no incidents table", path)
		}
		table := body[i:]
		table = table[:strings.Index(table, "</table>")]
		if !strings.Contains(table, started) || !strings.Contains(table, "open") {
			t.Errorf("%s: incidents %q lack the open incident started %s (the first failure after the window)", path, table, started)
		}
		if strings.Contains(table, base.Format("2006-01-02 15:04")) {
			t.Errorf("%s: incidents %q start at the window's start", path, table)
		}
	}
	if _, body := get(t, h, "/"); !strings.Contains(body, `data-state="down"`) {
		t.Errorf("overview does not show the site down after its window")
	}
}
