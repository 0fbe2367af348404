package api

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sitestat/sitestat/store"
)

// Show is what a surface shows of text that may carry secrets, and how
// precisely. The CLI shows everything through the redaction functions; the
// API masks query values and, with hidden URLs, shows reasons only.
type Show struct {
	// URL shows a website's URL ("" hides it); it must remove user info.
	URL func(string) string
	// Text shows an error text read from the database ("" hides it); it
	// must redact the URLs in it.
	Text func(string) string
	// Hosts shows the checker host of each probe's latest check.
	Hosts bool
	// Round rounds percentages to 3 decimals and p95s to 1 (the API).
	Round bool
}

func (sh Show) pct(v *float64) *float64 {
	if !sh.Round {
		return v
	}
	return round(v, 3)
}

func (sh Show) ms(v *float64) *float64 {
	if !sh.Round {
		return v
	}
	return round(v, 1)
}

// round returns v rounded to digits decimals, nil for nil.
func round(v *float64, digits int) *float64 {
	if v == nil {
		return nil
	}
	p := math.Pow(10, float64(digits))
	r := math.Round(*v*p) / p
	return &r
}

// WindowName names a window: "24h", "7d" (whole days from two days on),
// else its Go duration ("90m").
func WindowName(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

// OpenDownOf is s.Incident as an incident without a reason, for a caller
// that has not read the incidents (the CLI); nil when the site has none.
func OpenDownOf(s store.SiteStatus) *store.Incident {
	if s.Incident == nil {
		return nil
	}
	return &store.Incident{ID: s.Incident.ID, WebsiteID: s.ID, Kind: "down", StartedAt: s.Incident.StartedAt}
}

// SiteOf is website s as of now over window. openDown is its open down
// incident (nil when none), whose reason names the state.
func SiteOf(s store.SiteStatus, window time.Duration, openDown *store.Incident, now time.Time, sh Show) Site {
	out := Site{ID: s.ID, Name: s.Name, URL: sh.URL(s.URL), IntervalSeconds: int(s.Interval / time.Second),
		Stale: s.Stale, Maintenance: s.Maintenance, Window: WindowName(window), Checks: s.Checks,
		UptimePct: sh.pct(s.UptimePct), AvailabilityPct: sh.pct(s.AvailabilityPct),
		DowntimeSeconds: int64(s.Downtime.Seconds()), P95Ms: sh.ms(s.P95ResponseMs), Probes: make([]Probe, 0, len(s.Probes))}
	out.State, out.StateText = StateOf(s, openDown)
	if s.Incident != nil {
		id := s.Incident.ID
		out.IncidentID = &id
	}
	if l := s.Last; l != nil {
		up, at, age := l.Up, l.CheckedAt.UTC(), now.Sub(l.CheckedAt).Seconds()
		out.Up, out.Reason, out.StatusCode, out.ResponseTimeMs, out.CheckedAt, out.AgeSeconds = &up, string(l.Reason), l.StatusCode, l.ResponseTimeMs, &at, &age
	}
	for _, p := range s.Probes {
		out.Probes = append(out.Probes, ProbeOf(p, s.AlertAfter, now, sh))
	}
	return out
}

// ProbeOf is probe p's view of a website whose failure threshold is
// alertAfter.
func ProbeOf(p store.ProbeStatus, alertAfter int, now time.Time, sh Show) Probe {
	l := p.Last
	out := Probe{Probe: p.Probe, Up: l.Up, Reason: string(l.Reason), StatusCode: l.StatusCode,
		ResponseTimeMs: l.ResponseTimeMs, CheckedAt: l.CheckedAt, AgeSeconds: now.Sub(l.CheckedAt).Seconds(),
		Error: sh.Text(l.Error), Stale: p.Stale, FailStreak: p.FailStreak, Failing: p.Failing}
	out.State, _ = ProbeStateOf(p, alertAfter)
	if sh.Hosts {
		out.Host = l.Host
	}
	return out
}

// WindowOf is the uptime of window ws.
func WindowOf(ws store.WindowStatus, sh Show) Window {
	out := Window{Window: WindowName(ws.Window), Checks: ws.Checks, UptimePct: sh.pct(ws.UptimePct),
		AvailabilityPct: sh.pct(ws.AvailabilityPct), DowntimeSeconds: int64(ws.Downtime.Seconds()),
		P95Ms: sh.ms(ws.P95ResponseMs), Probes: make([]ProbeUptime, 0, len(ws.Probes))}
	for _, p := range ws.Probes {
		out.Probes = append(out.Probes, ProbeUptime{Probe: p.Probe, Checks: p.Checks, UptimePct: sh.pct(p.UptimePct)})
	}
	return out
}

// UptimeOf is the uptime of website id over window ws.
func UptimeOf(id int64, ws store.WindowStatus, sh Show) Uptime {
	w := WindowOf(ws, sh)
	return Uptime{ID: id, Window: w.Window, Checks: w.Checks, UptimePct: w.UptimePct,
		AvailabilityPct: w.AvailabilityPct, DowntimeSeconds: w.DowntimeSeconds, P95Ms: w.P95Ms}
}

// DetailOf is website d in detail as of now; openDown is as in SiteOf. The
// up_regex and TLS are the caller's to add.
func DetailOf(d store.SiteDetail, openDown *store.Incident, now time.Time, sh Show) SiteDetail {
	window := 24 * time.Hour
	if len(d.Windows) > 0 {
		window = d.Windows[0].Window
	}
	out := SiteDetail{Site: SiteOf(d.SiteStatus, window, openDown, now, sh), Windows: make([]Window, 0, len(d.Windows)),
		Days: make([]Day, 0, len(d.Days)), Failed: make([]FailedCheck, 0, len(d.Failed))}
	for _, w := range d.Windows {
		out.Windows = append(out.Windows, WindowOf(w, sh))
	}
	for _, day := range d.Days {
		out.Days = append(out.Days, Day{Day: day.Day.Format("2006-01-02"), Checks: day.Checks, UpChecks: day.UpChecks,
			UptimePct: sh.pct(day.UptimePct()), P50Ms: sh.ms(day.P50Ms), P95Ms: sh.ms(day.P95Ms)})
	}
	for _, f := range d.Failed {
		out.Failed = append(out.Failed, FailedCheck{CheckedAt: f.CheckedAt, Probe: f.Probe, Reason: string(f.Reason),
			StatusCode: f.StatusCode, Error: sh.Text(f.Error)})
	}
	return out
}

// CheckOf is raw check c.
func CheckOf(c store.Check, sh Show) Check {
	return Check{CheckID: c.CheckID, CheckedAt: c.CheckedAt, Probe: c.Probe, Up: c.Up, Reason: string(c.Reason),
		StatusCode: c.StatusCode, ResponseTimeMs: c.ResponseTimeMs, Error: sh.Text(c.Error)}
}

// IncidentOf is incident in as of now; url is its website's URL ("" for
// none, or where the surface leaves it out).
func IncidentOf(in store.Incident, url string, now time.Time, sh Show) Incident {
	end := now
	if in.ResolvedAt != nil {
		end = *in.ResolvedAt
	}
	out := Incident{ID: in.ID, Kind: in.Kind, Open: in.ResolvedAt == nil, StartedAt: in.StartedAt, ResolvedAt: in.ResolvedAt,
		DurationSeconds: max(0, int64(end.Sub(in.StartedAt).Seconds())), Reason: in.Reason, Error: sh.Text(in.Error),
		Probes: in.Probes}
	if url != "" {
		out.URL = sh.URL(url)
	}
	if in.WebsiteID != 0 {
		id := in.WebsiteID
		out.WebsiteID = &id
	}
	if out.Probes == nil {
		out.Probes = []string{}
	}
	return out
}

// IncidentNoticesOf is incident in with its notifications.
func IncidentNoticesOf(in store.Incident, url string, now time.Time, sh Show) IncidentNotices {
	out := IncidentNotices{Incident: IncidentOf(in, url, now, sh), Notifications: make([]Notification, 0, len(in.Notifications))}
	for _, n := range in.Notifications {
		out.Notifications = append(out.Notifications, Notification{ID: n.ID, Event: string(n.Event), Channel: string(n.Channel),
			State: n.State(), Attempts: n.Attempts, DeliveredAt: n.DeliveredAt, FailedAt: n.FailedAt, LastError: n.LastError})
	}
	return out
}
