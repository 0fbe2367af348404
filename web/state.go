package web

import (
	"fmt"

	"github.com/sitestat/sitestat/store"
)

// State is what the status page says of a website (or one of its probes)
// now. It is computed by stateOf alone, so that aligning it with the
// incidents logic (streaks, maintenance windows) is one change.
type State struct {
	// Kind is one of the Kind* constants; it is also the CSS class and the
	// JSON "state".
	Kind string
	// Text is what is shown next to the icon, e.g. "down: timeout".
	Text string
	// Icon is a character that carries the state without colour.
	Icon string
	// Rank orders the overview: lower first.
	Rank int
}

// The kinds of state, in overview order.
const (
	KindDown        = "down"
	KindFailing     = "failing"
	KindStale       = "stale"
	KindMaintenance = "maintenance"
	KindNever       = "never"
	KindUp          = "up"
)

var stateIcons = map[string]string{
	KindDown: "✖", KindFailing: "▲", KindStale: "?", KindMaintenance: "⏸", KindNever: "–", KindUp: "✔",
}

var stateRanks = map[string]int{
	KindDown: 0, KindFailing: 1, KindStale: 2, KindMaintenance: 3, KindNever: 4, KindUp: 5,
}

func newState(kind, text string) State {
	return State{Kind: kind, Text: text, Icon: stateIcons[kind], Rank: stateRanks[kind]}
}

// stateOf is the state of website s now:
//   - down: an open "down" incident (openDown is its incident, nil when none);
//   - in maintenance: inMaintenance (main has no maintenance windows yet:
//     always false until the incidents branch adds them);
//   - failing n/N: n of its N probes' latest checks failed, no incident (yet);
//   - stale: every probe's latest check is older than store.StaleAfter;
//   - never checked: no probe ever checked it;
//   - up otherwise.
//
// When the incidents branch adds failure streaks to site_probe_state, n/N
// becomes the streak against its threshold here, and nowhere else.
func stateOf(s store.SiteStatus, openDown *store.Incident, inMaintenance bool) State {
	switch {
	case inMaintenance:
		return newState(KindMaintenance, "in maintenance")
	case openDown != nil:
		if openDown.Reason != "" {
			return newState(KindDown, "down: "+openDown.Reason)
		}
		return newState(KindDown, "down")
	case len(s.Probes) == 0:
		return newState(KindNever, "never checked")
	case s.Stale:
		return newState(KindStale, "stale")
	}
	failing, reason := 0, ""
	for _, p := range s.Probes {
		if !p.Stale && !p.Last.Up {
			failing++
			if reason == "" {
				reason = string(p.Last.Reason)
			}
		}
	}
	if failing > 0 {
		return newState(KindFailing, fmt.Sprintf("failing %d/%d: %s", failing, len(s.Probes), reason))
	}
	return newState(KindUp, "up")
}

// probeState is the state of one probe's view of a website.
func probeState(p store.ProbeStatus) State {
	switch {
	case p.Stale:
		return newState(KindStale, "stale")
	case !p.Last.Up:
		return newState(KindFailing, "failing: "+string(p.Last.Reason))
	}
	return newState(KindUp, "up")
}
