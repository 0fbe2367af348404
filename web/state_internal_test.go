package web

import (
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/store"
)

func TestStateOf(t *testing.T) {
	now := time.Now()
	probe := func(name string, up, stale bool) store.ProbeStatus {
		reason := checker.ReasonOK
		if !up {
			reason = checker.ReasonTimeout
		}
		return store.ProbeStatus{Probe: name, Stale: stale, Last: store.LastCheck{Up: up, Reason: reason, CheckedAt: now}}
	}
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
		{"failing on one of two probes", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false), probe("b", false, false)}},
			nil, false, KindFailing, "failing 1/2: timeout"},
		{"a stale failing probe does not count", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false), probe("b", false, true)}},
			nil, false, KindUp, "up"},
		{"stale", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, true)}, Stale: true}, nil, false, KindStale, "stale"},
		{"down: an open incident, whatever the latest check", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", true, false)}},
			down, false, KindDown, "down: http_status"},
		{"maintenance wins", store.SiteStatus{Probes: []store.ProbeStatus{probe("a", false, false)}}, down, true, KindMaintenance, "in maintenance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := stateOf(c.site, c.open, c.maintenance)
			if st.Kind != c.kind || st.Text != c.text || st.Icon == "" {
				t.Errorf("stateOf = %+v, want kind %q text %q and an icon", st, c.kind, c.text)
			}
		})
	}
	if !(newState(KindDown, "").Rank < newState(KindFailing, "").Rank && newState(KindFailing, "").Rank < newState(KindUp, "").Rank) {
		t.Error("the overview must sort down, then failing, before up")
	}
}
