package web

import (
	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/store"
)

// State is what the status page says of a website (or one of its probes)
// now. Its kind and text are computed by api.StateOf alone (the JSON's
// state says the same), so that aligning it with the incidents logic
// (streaks, maintenance windows) is one change.
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
	KindDown        = api.StateDown
	KindFailing     = api.StateFailing
	KindStale       = api.StateStale
	KindMaintenance = api.StateMaintenance
	KindNever       = api.StateNever
	KindUp          = api.StateUp
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

// stateOf is the state of website s now (see api.StateOf); openDown is its
// open down incident, nil when none.
func stateOf(s store.SiteStatus, openDown *store.Incident) State {
	return newState(api.StateOf(s, openDown))
}

// probeState is the state of one probe's view of a website.
func probeState(p store.ProbeStatus, alertAfter int) State {
	return newState(api.ProbeStateOf(p, alertAfter))
}
