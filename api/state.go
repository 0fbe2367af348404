package api

import (
	"fmt"

	"github.com/sitestat/sitestat/store"
)

// The states of a website (or of one of its probes), the JSON "state".
const (
	StateDown        = "down"
	StateFailing     = "failing"
	StateStale       = "stale"
	StateMaintenance = "maintenance"
	StateNever       = "never"
	StateUp          = "up"
)

// StateOf is the state of website s now, and its text:
//   - in maintenance: a maintenance window covers it now;
//   - down: an open "down" incident (openDown is its incident, nil when none);
//   - never checked: no probe ever checked it;
//   - stale: every probe's latest check is older than store.StaleAfter;
//   - failing n/N: a probe's latest checks failed n times in a row, N being
//     the site's failure threshold (no incident yet);
//   - up otherwise.
func StateOf(s store.SiteStatus, openDown *store.Incident) (kind, text string) {
	switch {
	case s.Maintenance:
		return StateMaintenance, "in maintenance"
	case openDown != nil:
		if openDown.Reason != "" {
			return StateDown, "down: " + openDown.Reason
		}
		return StateDown, "down"
	case len(s.Probes) == 0:
		return StateNever, "never checked"
	case s.Stale:
		return StateStale, "stale"
	}
	var worst *store.ProbeStatus
	for i := range s.Probes {
		p := &s.Probes[i]
		if !p.Stale && !p.Last.Up && (worst == nil || p.FailStreak > worst.FailStreak) {
			worst = p
		}
	}
	if worst != nil {
		return StateFailing, failingText(*worst, s.AlertAfter)
	}
	return StateUp, "up"
}

// ProbeStateOf is the state of one probe's view of a website, and its text.
func ProbeStateOf(p store.ProbeStatus, alertAfter int) (kind, text string) {
	switch {
	case p.Stale:
		return StateStale, "stale"
	case !p.Last.Up:
		return StateFailing, failingText(p, alertAfter)
	}
	return StateUp, "up"
}

// failingText is "failing n/N: reason", or "failing: reason" when alerting
// is off for the site (N is 0).
func failingText(p store.ProbeStatus, alertAfter int) string {
	if alertAfter > 0 && p.FailStreak > 0 {
		return fmt.Sprintf("failing %d/%d: %s", p.FailStreak, alertAfter, p.Last.Reason)
	}
	return "failing: " + string(p.Last.Reason)
}
