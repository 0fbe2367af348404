package store_test

import (
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// TestMaintenanceIsNotDowntime (issue 18 item 10): a site failing through a
// maintenance window and on after it opens its incident at the first failure
// outside every window, whether the checks come in one batch or the window's
// in an earlier one, and the window is not counted as downtime.
func TestMaintenanceIsNotDowntime(t *testing.T) {
	type span struct{ from, until time.Duration } // offsets from base
	cases := []struct {
		name    string
		windows []span
		batches []int         // checks per batch, of the 12 failures 10 s apart
		start   time.Duration // the incident's expected start, from base
	}{
		{"one batch", []span{{0, 60 * time.Second}}, []int{12}, 60 * time.Second},
		{"window in an earlier batch", []span{{0, 60 * time.Second}}, []int{6, 6}, 60 * time.Second},
		{"one check per batch", []span{{0, 60 * time.Second}}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 60 * time.Second},
		{"a gap between two windows", []span{{0, 30 * time.Second}, {40 * time.Second, 60 * time.Second}}, []int{12}, 30 * time.Second},
		{"no window", nil, []int{12}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := alertingDB(t, store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}})
			ctx := testContext(t)
			now := time.Now().UTC().Truncate(time.Second)
			base := now.Add(-10 * time.Minute)
			site := fixture.AddSite(t, db, "https://planned.example/")
			fixture.Exec(t, db, "UPDATE websites SET created_at = $2 WHERE id = $1", site, now.Add(-time.Hour))
			if _, err := db.EnsurePartitions(ctx, now.Add(-time.Hour), now); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.windows {
				if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{WebsiteID: site,
					From: base.Add(w.from), Until: base.Add(w.until)}, base); err != nil {
					t.Fatal(err)
				}
			}
			rs := checks(site, "F F F F F F F F F F F F", base)
			for _, n := range tc.batches {
				if _, err := db.InsertResults(ctx, rs[:n]); err != nil {
					t.Fatal(err)
				}
				rs = rs[n:]
			}
			var started time.Time
			if err := db.SQL().QueryRowContext(ctx,
				"SELECT started_at FROM incidents WHERE website_id = $1 AND kind = 'down' AND resolved_at IS NULL", site).Scan(&started); err != nil {
				t.Fatalf("open incident: %v", err)
			}
			if want := base.Add(tc.start); !started.Equal(want) {
				t.Errorf("incident started at %s, want %s (the first failure outside the windows)", started.UTC(), want)
			}
			st, err := db.Status(ctx, time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || st[0].AvailabilityPct == nil {
				t.Fatalf("status %+v: want one site with an availability", st)
			}
			down := now.Sub(base.Add(tc.start))
			if st[0].Downtime != down {
				t.Errorf("downtime %s, want %s (from the first failure outside the windows)", st[0].Downtime, down)
			}
			if want := 100 * (1 - down.Seconds()/time.Hour.Seconds()); *st[0].AvailabilityPct-want > 0.01 || want-*st[0].AvailabilityPct > 0.01 {
				t.Errorf("availability %.3f%%, want %.3f%%", *st[0].AvailabilityPct, want)
			}
		})
	}
}
