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
	KindDown: "✖", KindFailing: "▲", KindStale: "?", KindMaintenance: "‖", KindNever: "–", KindUp: "✔",
}

var stateRanks = map[string]int{
	KindDown: 0, KindFailing: 1, KindStale: 2, KindMaintenance: 3, KindNever: 4, KindUp: 5,
}

func newState(kind, text string) State {
	return State{Kind: kind, Text: text, Icon: stateIcons[kind], Rank: stateRanks[kind]}
}

// stateOf is the state of website s now:
//   - in maintenance: a maintenance window covers it now;
//   - down: an open "down" incident (openDown is its incident, nil when none);
//   - never checked: no probe ever checked it;
//   - stale: every probe's latest check is older than store.StaleAfter;
//   - failing n/N: a probe's latest checks failed n times in a row, N being
//     the site's failure threshold (no incident yet);
//   - up otherwise.
func stateOf(s store.SiteStatus, openDown *store.Incident) State {
	switch {
	case s.Maintenance:
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
	var worst *store.ProbeStatus
	for i := range s.Probes {
		p := &s.Probes[i]
		if !p.Stale && !p.Last.Up && (worst == nil || p.FailStreak > worst.FailStreak) {
			worst = p
		}
	}
	if worst != nil {
		return newState(KindFailing, failingText(*worst, s.AlertAfter))
	}
	return newState(KindUp, "up")
}

// failingText is "failing n/N: reason", or "failing: reason" when alerting
// is off for the site (N is 0).
func failingText(p store.ProbeStatus, alertAfter int) string {
	if alertAfter > 0 && p.FailStreak > 0 {
		return fmt.Sprintf("failing %d/%d: %s", p.FailStreak, alertAfter, p.Last.Reason)
	}
	return "failing: " + string(p.Last.Reason)
}

// probeState is the state of one probe's view of a website.
func probeState(p store.ProbeStatus, alertAfter int) State {
	switch {
	case p.Stale:
		return newState(KindStale, "stale")
	case !p.Last.Up:
		return newState(KindFailing, failingText(p, alertAfter))
	}
	return newState(KindUp, "up")
}
