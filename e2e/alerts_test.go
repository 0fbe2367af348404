//go:build serial

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a local webhook: it records every POST and answers 500
// while failing is set.
type receiver struct {
	srv     *httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	got     []delivery
}

// delivery is one POST the receiver got.
type delivery struct {
	key      string // Idempotency-Key
	event    string
	kind     string
	incident int64
	site     int64
	probes   []string
	ok       bool // answered 200
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct {
			Event      string   `json:"event"`
			Kind       string   `json:"kind"`
			IncidentID int64    `json:"incident_id"`
			WebsiteID  *int64   `json:"website_id"`
			Probes     []string `json:"probes"`
		}
		_ = json.Unmarshal(b, &m)
		d := delivery{key: r.Header.Get("Idempotency-Key"), event: m.Event, kind: m.Kind, incident: m.IncidentID,
			probes: m.Probes, ok: !rc.failing.Load()}
		if m.WebsiteID != nil {
			d.site = *m.WebsiteID
		}
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		if !d.ok {
			http.Error(w, "down for the test", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// deliveries returns the POSTs so far that match keep.
func (rc *receiver) deliveries(keep func(delivery) bool) []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []delivery
	for _, d := range rc.got {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// delivered returns the events acknowledged (answered 200) for site, one
// per idempotency key, in the order first acknowledged.
func (rc *receiver) delivered(site int64) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range rc.deliveries(func(d delivery) bool { return d.site == site && d.ok }) {
		if !seen[d.key] {
			seen[d.key] = true
			out = append(out, d.event)
		}
	}
	return out
}

// TestSerialAlerts runs check and sync with a webhook receiver: a site
// that flips between up and down gives exactly one down and one recovered
// per outage; a site failing one check in five gives none; a failing site in
// a maintenance window gives none. In the second outage the receiver
// answers 500 and sync is killed (-9) after the incident committed: the
// down is delivered once the receiver recovers, every attempt with the same
// idempotency key. Then check is killed: a probe_silent incident opens
// within the silence time plus one flush, and its down is delivered.
func TestSerialAlerts(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	var down atomic.Bool
	var blips atomic.Int64
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flip":
			if down.Load() {
				http.Error(w, "flipped down", http.StatusInternalServerError)
				return
			}
		case "/blip": // one failure in five: never three in a row
			if blips.Add(1)%5 == 0 {
				http.Error(w, "blip", http.StatusInternalServerError)
				return
			}
		case "/broken":
			http.Error(w, "in maintenance", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(site.Close)
	flip := e.addSite(site.URL+"/flip", 1, "")
	blip := e.addSite(site.URL+"/blip", 1, "")
	broken := e.addSite(site.URL+"/broken", 1, "")
	e.mustRun(nil, "maintenance", "add", "--site", strconv.FormatInt(broken, 10), "--from", "now", "--until", "+1h")

	const silence = 4 * time.Second
	e.extra = append(e.extra,
		"SITESTAT_ALERT_WEBHOOK_URL="+rc.srv.URL+"/hook",
		"SITESTAT_ALERT_POLL=100ms",
		"SITESTAT_ALERT_BACKOFF_MIN=200ms",
		"SITESTAT_ALERT_BACKOFF_MAX=1s",
		"SITESTAT_CHECK_HEARTBEAT=1s",
		"SITESTAT_ALERT_SILENCE="+silence.String(),
	)
	sync1 := e.start("sync", nil, "sync")
	check := e.start("check", nil, "check")
	waitEvents := func(what string, want ...string) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() (bool, string) {
			got := rc.delivered(flip)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
		})
	}

	// Outage 1: down, then up.
	waitFor(t, 30*time.Second, "the flip site checked up", func() (bool, string) {
		n := e.count("WHERE website_id = $1 AND up", flip)
		return n >= 2, fmt.Sprint(n, " up checks")
	})
	down.Store(true)
	waitEvents("the first down delivered", "down")
	down.Store(false)
	waitEvents("the first recovery delivered", "down", "recovered")

	// Outage 2: the receiver fails, sync is killed after the incident
	// commits, then the receiver recovers and a new sync delivers.
	rc.failing.Store(true)
	down.Store(true)
	var incident int64
	waitFor(t, 30*time.Second, "the second incident open", func() (bool, string) {
		err := e.db.QueryRow(`SELECT id FROM incidents WHERE website_id = $1 AND kind = 'down' AND resolved_at IS NULL`, flip).Scan(&incident)
		return err == nil, fmt.Sprint(err)
	})
	waitFor(t, 30*time.Second, "a failed attempt of the second down", func() (bool, string) {
		n := len(rc.deliveries(func(d delivery) bool { return d.incident == incident && !d.ok }))
		return n > 0, fmt.Sprint(n, " attempts")
	})
	sync1.kill()
	rc.failing.Store(false)
	e.start("sync", nil, "sync")
	waitEvents("the second down delivered by the new sync", "down", "recovered", "down")
	attempts := rc.deliveries(func(d delivery) bool { return d.incident == incident && d.event == "down" })
	var id int64
	if err := e.db.QueryRow(`SELECT id FROM notifications WHERE incident_id = $1 AND event = 'down'`, incident).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, a := range attempts {
		if a.key != strconv.FormatInt(id, 10) {
			t.Errorf("attempt of the second down with idempotency key %q, want %d", a.key, id)
		}
	}
	down.Store(false)
	waitEvents("the second recovery delivered", "down", "recovered", "down", "recovered")

	// Nothing for the blips and the site in maintenance.
	if got := rc.delivered(blip); len(got) != 0 || e.count("WHERE website_id = $1 AND NOT up", blip) == 0 {
		t.Errorf("site failing one check in five: notifications %v (want none, and some failed checks)", got)
	}
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM incidents WHERE website_id = $1`, broken).Scan(&n); err != nil || n != 0 ||
		len(rc.delivered(broken)) != 0 {
		t.Errorf("failing site in maintenance: %d incidents (%v), %v notifications; want none", n, err, rc.delivered(broken))
	}
	if got := rc.delivered(flip); len(got) != 4 {
		t.Errorf("flip site: delivered %v, want one down and one recovered per outage", got)
	}

	// A killed check: probe_silent within the silence plus one flush (and
	// the watch's tick, silence/4).
	check.kill()
	killed := time.Now()
	waitFor(t, silence+10*time.Second, "a probe_silent incident delivered", func() (bool, string) {
		got := rc.deliveries(func(d delivery) bool { return d.kind == "probe_silent" && d.event == "down" && d.ok })
		return len(got) > 0, fmt.Sprint(len(got))
	})
	var opened time.Time
	if err := e.db.QueryRow(`SELECT created_at FROM incidents WHERE kind = 'probe_silent' AND probes[1] = 'e2e-1'`).Scan(&opened); err != nil {
		t.Fatalf("probe_silent incident of e2e-1: %v", err)
	}
	if took, limit := opened.Sub(killed), silence+silence/4+2*time.Second; took > limit {
		t.Errorf("probe_silent opened %s after the kill, want within %s", took, limit)
	}
	t.Logf("probe_silent opened %s after the kill", opened.Sub(killed).Round(time.Millisecond))
}
