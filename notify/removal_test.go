package notify_test

// Issue 18 item 6: a site removed (or its alerting turned off) while its
// incident is open gets its "recovered", delivered after its "down", through
// the real outbox, the real loop and real local receivers.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/notify"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// openDown adds a website to db and stores three failed checks of it, so
// that InsertResults opens its down incident and enqueues the down.
func openDown(t *testing.T, db *store.DB) int64 {
	t.Helper()
	ctx := testContext(t)
	site, err := db.AddSite(ctx, store.SiteInput{URL: "https://removed.example/health"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	var rs []contract.Result
	for i := range 3 {
		r := fixture.Result(site)
		r.CheckID, r.CheckedAt = uuid.NewString(), start.Add(time.Duration(i)*5*time.Second)
		r.Up, r.Reason, r.StatusCode = false, contract.ReasonHTTPStatus, ptr(503)
		rs = append(rs, r)
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatalf("insert results: %v", err)
	}
	var open int64
	if err := db.SQL().QueryRowContext(ctx,
		"SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NULL", site).Scan(&open); err != nil || open != 1 {
		t.Fatalf("%d open incidents (%v), want 1", open, err)
	}
	return site
}

func ptr[T any](v T) *T { return &v }

func TestRemovalResolvesTheOpenIncident(t *testing.T) {
	off := 0
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, db *store.DB, site int64) error
		reason string
	}{
		{"sites remove", func(ctx context.Context, db *store.DB, site int64) error {
			return db.RemoveSites(ctx, []int64{site})
		}, alert.ReasonSiteRemoved},
		{"DELETE by hand", func(ctx context.Context, db *store.DB, site int64) error {
			_, err := db.SQL().ExecContext(ctx, "DELETE FROM websites WHERE id = $1", site)
			return err
		}, alert.ReasonSiteRemoved},
		{"alert-after 0", func(ctx context.Context, db *store.DB, site int64) error {
			return db.UpdateSite(ctx, site, store.SiteUpdate{AlertAfter: &off})
		}, alert.ReasonAlertingOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dbURL := fixture.MigratedDB(t)
			db, err := store.Open(testContext(t), dbURL, store.Options{Alerts: store.AlertOptions{
				Channels: []alert.Channel{alert.ChannelWebhook, alert.ChannelPagerDuty}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			log, _ := newLogger(t)
			// Each receiver refuses its first two downs, so the down is
			// still pending when the site goes: the recovered must wait.
			refuseDowns := func() func(int, request) (int, string) {
				var downs atomic.Int64
				return func(_ int, r request) (int, string) {
					if strings.Contains(string(r.body), `"trigger"`) || strings.Contains(string(r.body), `"event":"down"`) {
						if downs.Add(1) <= 2 {
							return http.StatusServiceUnavailable, "busy"
						}
					}
					return http.StatusAccepted, `{"status":"success"}`
				}
			}
			hook, pd := newReceiver(t, refuseDowns()), newReceiver(t, refuseDowns())
			site := openDown(t, db)
			if err := tc.change(testContext(t), db, site); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var open int64
			if err := db.SQL().QueryRowContext(testContext(t),
				"SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NULL", site).Scan(&open); err != nil || open != 0 {
				t.Errorf("%d incidents of the site still open (%v), want 0", open, err)
			}
			l := notify.NewLoop(db, []notify.Sender{notify.NewWebhook(hook.URL, "secret", notify.Options{}),
				notify.NewPagerDuty(pd.URL, "routing-key", notify.Options{})}, fastOptions(log))
			startLoop(t, l)
			testenv.Eventually(t, 20*time.Second, func() bool {
				rs := rows(t, db)
				for _, r := range rs {
					if !r.delivered {
						return false
					}
				}
				return len(rs) == 4
			}, "down and recovered are not both delivered to both channels: %v", rows(t, db))

			var events []string
			var recovered alert.Message
			for _, r := range hook.got() {
				var m alert.Message
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatalf("webhook body %q: %v", r.body, err)
				}
				events = append(events, string(m.Event))
				if m.Event == alert.EventRecovered {
					recovered = m
				}
			}
			if got, want := strings.Join(events, ","), "down,down,down,recovered"; got != want {
				t.Errorf("webhook got %s, want %s", got, want)
			}
			if recovered.Reason != tc.reason || recovered.ResolvedAt == nil || recovered.WebsiteID == nil || *recovered.WebsiteID != site {
				t.Errorf("recovered %+v: want reason %s, resolved_at set, website %d", recovered, tc.reason, site)
			}
			var actions []string
			for _, r := range pd.got() {
				var ev notify.PagerDutyEvent
				if err := json.Unmarshal(r.body, &ev); err != nil {
					t.Fatalf("pagerduty body %q: %v", r.body, err)
				}
				actions = append(actions, ev.EventAction)
			}
			if got, want := strings.Join(actions, ","), "trigger,trigger,trigger,resolve"; got != want {
				t.Errorf("pagerduty got %s, want %s", got, want)
			}
		})
	}
}

// TestSlackSaysWhyAnIncidentWasResolved: the Slack text of a recovered does
// not call a removed site "recovered".
func TestSlackSaysWhyAnIncidentWasResolved(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"http_status", "RECOVERED https://shop.example/ (site 7) after 15s"},
		{alert.ReasonSiteRemoved, "RESOLVED (site removed from sitestat) https://shop.example/ (site 7) after 15s"},
		{alert.ReasonAlertingOff, "RESOLVED (alerting turned off) https://shop.example/ (site 7) after 15s"},
	} {
		m := downMessage()
		m.Event, m.Reason = alert.EventRecovered, tc.reason
		if got := notify.SlackText(m); !strings.Contains(got, tc.want) {
			t.Errorf("reason %s: text %q lacks %q", tc.reason, got, tc.want)
		}
	}
}
