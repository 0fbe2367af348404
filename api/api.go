// Package api holds the JSON shapes of sitestat's API (/api/v1 of `sitestat
// serve`) and of the --json output of its commands (`status`, `status ID`,
// `incidents`, `sites list`), and their conversions from the store's types.
// One value has one name wherever it occurs: `id`, `url`, `name`,
// `interval_seconds`, `state`, `reason`, `uptime_pct`, `availability_pct`,
// `downtime_seconds`, `p95_ms`, `checked_at`, `probe`; units are in the
// names. Both the CLI and the web package build their JSON here, so the two
// cannot drift apart. What each surface may show (URLs, error texts, checker
// hosts) is its own decision, passed in as Show.
package api

import "time"

// Site is a website's state now and over a window: one element of `status
// --json` and of /api/v1/sites.
type Site struct {
	// ID is websites.id.
	ID int64 `json:"id"`
	// Name is the website's name, "" when none.
	Name string `json:"name"`
	// URL is the website's URL as the surface shows it (never with user
	// info); absent when the surface hides URLs.
	URL string `json:"url,omitempty"`
	// IntervalSeconds is how often the website is checked.
	IntervalSeconds int `json:"interval_seconds"`
	// State is one of the State* constants; StateText says it in words,
	// e.g. "down: timeout".
	State     string `json:"state"`
	StateText string `json:"state_text"`
	// Reason, Up, StatusCode, ResponseTimeMs and CheckedAt describe the
	// latest check of any probe; absent or null when never checked.
	Reason         string     `json:"reason,omitempty"`
	Up             *bool      `json:"up"`
	StatusCode     *int       `json:"status_code"`
	ResponseTimeMs *float64   `json:"response_time_ms"`
	CheckedAt      *time.Time `json:"checked_at"`
	// AgeSeconds is how long ago CheckedAt was.
	AgeSeconds *float64 `json:"age_seconds"`
	// Stale is true when every probe's latest check is stale.
	Stale bool `json:"stale"`
	// Maintenance is true when a maintenance window covers the site now.
	Maintenance bool `json:"maintenance"`
	// IncidentID is the open down incident; the site is down only with one.
	IncidentID *int64 `json:"incident_id"`
	// Window names the period of the fields below, e.g. "24h", "7d".
	Window string `json:"window"`
	// Checks counts the window's checks.
	Checks int64 `json:"checks"`
	// UptimePct is the share of the window's checks that were up; null
	// without checks.
	UptimePct *float64 `json:"uptime_pct"`
	// AvailabilityPct is 100 × (1 − time in down incidents ÷ window); null
	// without checks or when alerting is off for the site.
	AvailabilityPct *float64 `json:"availability_pct"`
	// DowntimeSeconds is the time of the window in down incidents, in
	// whole seconds.
	DowntimeSeconds int64 `json:"downtime_seconds"`
	// P95Ms is the 95th percentile response time over the window (within
	// 5%); null without checks, and in /api/v1/sites (read it per website).
	P95Ms *float64 `json:"p95_ms"`
	// Probes is the state per probe, by probe name.
	Probes []Probe `json:"probes"`
}

// Probe is the state of a website as one probe last saw it.
type Probe struct {
	// Probe is the checking location.
	Probe string `json:"probe"`
	// State is StateUp, StateFailing or StateStale.
	State string `json:"state"`
	// Up, Reason, StatusCode, ResponseTimeMs, CheckedAt and Error describe
	// its latest check.
	Up             bool      `json:"up"`
	Reason         string    `json:"reason"`
	StatusCode     *int      `json:"status_code"`
	ResponseTimeMs *float64  `json:"response_time_ms"`
	CheckedAt      time.Time `json:"checked_at"`
	// AgeSeconds is how long ago CheckedAt was.
	AgeSeconds float64 `json:"age_seconds"`
	// Error is the check's error text as the surface shows it; "" when up
	// or hidden.
	Error string `json:"error"`
	// Host is the machine that made the check; absent where the surface
	// hides checker hosts (the API).
	Host string `json:"host,omitempty"`
	// Stale is true when nobody checks the site from there any more.
	Stale bool `json:"stale"`
	// FailStreak counts its latest failed checks in a row.
	FailStreak int `json:"fail_streak"`
	// Failing is whether it crossed the site's failure threshold.
	Failing bool `json:"failing"`
}

// Window is a website's uptime over one window.
type Window struct {
	// Window names it: "24h", "7d", "30d".
	Window string `json:"window"`
	// Checks counts its checks.
	Checks int64 `json:"checks"`
	// UptimePct, AvailabilityPct, DowntimeSeconds and P95Ms are as in Site.
	UptimePct       *float64 `json:"uptime_pct"`
	AvailabilityPct *float64 `json:"availability_pct"`
	DowntimeSeconds int64    `json:"downtime_seconds"`
	P95Ms           *float64 `json:"p95_ms"`
	// Probes is the uptime of the window's checks per probe.
	Probes []ProbeUptime `json:"probes"`
}

// ProbeUptime is the share of one probe's checks that were up over a window.
type ProbeUptime struct {
	Probe  string `json:"probe"`
	Checks int64  `json:"checks"`
	// UptimePct is null without checks.
	UptimePct *float64 `json:"uptime_pct"`
}

// Day is one UTC day of a website's history.
type Day struct {
	// Day is its date, YYYY-MM-DD.
	Day string `json:"day"`
	// Checks and UpChecks count its checks.
	Checks   int64 `json:"checks"`
	UpChecks int64 `json:"up_checks"`
	// UptimePct, P50Ms and P95Ms are null without checks.
	UptimePct *float64 `json:"uptime_pct"`
	P50Ms     *float64 `json:"p50_ms"`
	P95Ms     *float64 `json:"p95_ms"`
}

// FailedCheck is one failed check of a website.
type FailedCheck struct {
	CheckedAt  time.Time `json:"checked_at"`
	Probe      string    `json:"probe"`
	Reason     string    `json:"reason"`
	StatusCode *int      `json:"status_code"`
	// Error is as the surface shows it ("" when hidden).
	Error string `json:"error"`
}

// SiteDetail is one website in detail: `status ID --json` and
// /api/v1/sites/{id}. The Site's window is the first of Windows.
type SiteDetail struct {
	Site
	// Regex is the website's up_regex; only the CLI shows it.
	Regex string `json:"up_regex,omitempty"`
	// Windows are its uptimes over the detail's windows.
	Windows []Window `json:"windows"`
	// Days are the last 90 UTC days, oldest first.
	Days []Day `json:"days"`
	// Failed are its last failed checks in raw history, newest first.
	Failed []FailedCheck `json:"failed_checks"`
	// TLSVersion and CertNotAfter describe its TLS (the API, when known).
	TLSVersion   string     `json:"tls_version,omitempty"`
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
}

// Uptime is a website's uptime over one window: /api/v1/sites/{id}/uptime.
type Uptime struct {
	ID              int64    `json:"id"`
	Window          string   `json:"window"`
	Checks          int64    `json:"checks"`
	UptimePct       *float64 `json:"uptime_pct"`
	AvailabilityPct *float64 `json:"availability_pct"`
	DowntimeSeconds int64    `json:"downtime_seconds"`
	P95Ms           *float64 `json:"p95_ms"`
}

// Check is one raw check: /api/v1/sites/{id}/checks.
type Check struct {
	CheckID        string    `json:"check_id"`
	CheckedAt      time.Time `json:"checked_at"`
	Probe          string    `json:"probe"`
	Up             bool      `json:"up"`
	Reason         string    `json:"reason"`
	StatusCode     *int      `json:"status_code"`
	ResponseTimeMs *float64  `json:"response_time_ms"`
	// Error is as the surface shows it ("" when hidden).
	Error string `json:"error"`
}

// Incident is one incident: /api/v1/incidents and, with its notifications,
// `incidents --json`.
type Incident struct {
	ID int64 `json:"id"`
	// WebsiteID is null for an incident of no website (probe_silent).
	WebsiteID *int64 `json:"website_id"`
	// URL is its website's URL (the CLI; absent in the API).
	URL string `json:"url,omitempty"`
	// Kind is down, cert_expiry or probe_silent.
	Kind string `json:"kind"`
	// Open is true until it is resolved.
	Open       bool       `json:"open"`
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	// DurationSeconds is how long it lasted, or has lasted, in whole seconds.
	DurationSeconds int64  `json:"duration_seconds"`
	Reason          string `json:"reason"`
	// Error is as the surface shows it ("" when hidden).
	Error string `json:"error"`
	// Probes are those that opened it.
	Probes []string `json:"probes"`
}

// IncidentNotices is an incident with its notifications: one element of
// `incidents --json`.
type IncidentNotices struct {
	Incident
	Notifications []Notification `json:"notifications"`
}

// Notification is one notification of an incident.
type Notification struct {
	ID      int64  `json:"id"`
	Event   string `json:"event"`
	Channel string `json:"channel"`
	// State is delivered, pending or failed.
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at"`
	FailedAt    *time.Time `json:"failed_at"`
	LastError   string     `json:"last_error"`
}

// SiteConfig is a website as configured: one element of `sites list --json`.
type SiteConfig struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	URL             string `json:"url"`
	IntervalSeconds int    `json:"interval_seconds"`
	Regex           string `json:"up_regex,omitempty"`
	// Public is false for a private website.
	Public bool `json:"public"`
}
