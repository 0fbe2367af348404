package web

import (
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
)

func TestStateOf(t *testing.T) {
	now := time.Now()
	probe := func(name string, up, stale bool) store.ProbeStatus {
		reason, streak := contract.ReasonOK, 0
		if !up {
			reason, streak = contract.ReasonTimeout, 1
		}
		return store.ProbeStatus{Probe: name, Stale: stale, FailStreak: streak, Last: store.LastCheck{Up: up, Reason: reason, CheckedAt: now}}
	}
	streak := func(p store.ProbeStatus, n int) store.ProbeStatus { p.FailStreak = n; return p }
	down := &store.Incident{Kind: "down", Reason: "http_status"}
	cases := []struct {
		name        string
		site        store.SiteStatus
		open        *store.Incident
		maintenance bool
		kind, text  string
	}{
		{"never checked", store.SiteStatus{}, nil, false, KindNever, "never checked"},
		{"up", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false)}}, nil, false, KindUp, "up"},
		{"a first failure is failing 1/3", store.SiteStatus{AlertAfter: 3, Probes: []store.ProbeStatus{probe("a", true, false), probe("b", false, false)}},
			nil, false, KindFailing, "failing 1/3: timeout"},
		{"the longest streak of the probes", store.SiteStatus{AlertAfter: 3, Probes: []store.ProbeStatus{streak(probe("a", false, false), 2), probe("b", false, false)}},
			nil, false, KindFailing, "failing 2/3: timeout"},
		{"alerting off", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", false, false)}}, nil, false, KindFailing, "failing: timeout"},
		{"a stale failing probe does not count", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false), probe("b", false, true)}},
			nil, false, KindUp, "up"},
		{"stale", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, true)}, Stale: true}, nil, false, KindStale, "stale"},
		{"down: an open incident, whatever the latest check", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false)}},
			down, false, KindDown, "down: http_status"},
		{"maintenance wins", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", false, false)}}, down, true, KindMaintenance, "in maintenance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.site.Maintenance = c.maintenance
			st := stateOf(c.site, c.open)
			if st.Kind != c.kind || st.Text != c.text || st.Icon == "" {
				t.Errorf("stateOf = %+v, want kind %q text %q and an icon", st, c.kind, c.text)
			}
		})
	}
	if !(newState(KindDown, "").Rank < newState(KindFailing, "").Rank && newState(KindFailing, "").Rank < newState(KindUp, "").Rank) {
		t.Error("the overview must sort down, then failing, before up")
	}
}
