// Package alert is the domain of sitestat's notifications: the events an
// incident produces, the channels they are delivered to, and the message every
// channel is built from. It imports only the standard library: store writes
// and claims notifications of these types (the outbox), notify delivers them.
package alert

import "time"

// Version is the version of Message; an incompatible change bumps it.
const Version = 1

// Event is what happened to an incident.
type Event string

// The events. An incident produces one EventDown when it opens and one
// EventRecovered when it resolves, whatever its kind (for a cert_expiry or
// probe_silent incident "down" means "opened").
const (
	// EventDown: an incident opened.
	EventDown Event = "down"
	// EventRecovered: the incident resolved. It goes only to the channels
	// that got (or are still to get) its EventDown, and always to those.
	EventRecovered Event = "recovered"
	// EventTest: `sitestat alerts test`; never stored in the outbox.
	EventTest Event = "test"
)

// Channel names a kind of receiver. One of each may be configured.
type Channel string

// The channels.
const (
	// ChannelWebhook is the generic JSON webhook: the Message itself, signed.
	ChannelWebhook Channel = "webhook"
	// ChannelSlack is a Slack (or Mattermost) incoming webhook.
	ChannelSlack Channel = "slack"
	// ChannelPagerDuty is the PagerDuty Events API v2.
	ChannelPagerDuty Channel = "pagerduty"
)

// The kinds of incident (incidents.kind).
const (
	KindDown        = "down"
	KindCertExpiry  = "cert_expiry"
	KindProbeSilent = "probe_silent"
)

// The reasons of a recovered that is not a recovery: the incident was
// resolved because nobody watches the site any more. They replace
// Message.Reason (the check reason that opened the incident) in that
// recovered only.
const (
	// ReasonSiteRemoved: the website was removed (`sitestat sites remove`,
	// or DELETE FROM websites) while the incident was open.
	ReasonSiteRemoved = "site_removed"
	// ReasonAlertingOff: the website's alerting was turned off
	// (`sitestat sites update --alert-after 0`) while its down was open.
	ReasonAlertingOff = "alerting_off"
)

// Message is one event of one incident as it is notified: the generic
// webhook's JSON body, and what the Slack and PagerDuty messages are made
// from. It is a snapshot taken when the notification was enqueued, so every
// attempt of one notification sends the same body.
type Message struct {
	// V is Version.
	V int `json:"v"`
	// NotificationID is the outbox id, also sent in the Idempotency-Key
	// header; 0 for a test.
	NotificationID int64 `json:"notification_id"`
	// Event is down, recovered or test.
	Event Event `json:"event"`
	// IncidentID identifies the incident (incidents.id); 0 for a test.
	IncidentID int64 `json:"incident_id"`
	// Kind is the incident's kind: down, cert_expiry or probe_silent.
	Kind string `json:"kind"`
	// WebsiteID is the website concerned; null for probe_silent.
	WebsiteID *int64 `json:"website_id"`
	// URL is the website's URL, "" when there is none.
	URL string `json:"url"`
	// Reason is the check reason that opened the incident (e.g.
	// http_status); in the recovered of an incident resolved because its
	// website was removed or its alerting turned off, ReasonSiteRemoved or
	// ReasonAlertingOff.
	Reason string `json:"reason"`
	// Error is the error text of the check that opened it, "" when none.
	Error string `json:"error"`
	// StartedAt is when the incident started (for down, the first failing
	// check's checked_at), UTC.
	StartedAt time.Time `json:"started_at"`
	// ResolvedAt is when it resolved; null while open.
	ResolvedAt *time.Time `json:"resolved_at"`
	// DurationSeconds is ResolvedAt − StartedAt for a recovered; for a down,
	// how long the incident had lasted when the notification was enqueued.
	DurationSeconds float64 `json:"duration_seconds"`
	// Probes are the probes (checking locations) involved.
	Probes []string `json:"probes"`
}

// Notification is one outbox row: one Message for one channel.
type Notification struct {
	// ID is the outbox id (notifications.id).
	ID int64
	// IncidentID is the incident, 0 when it is gone or there is none.
	IncidentID int64
	// Event and Channel say what goes where.
	Event   Event
	Channel Channel
	// Message is the payload, with NotificationID set.
	Message Message
	// CreatedAt is when it was enqueued; the give-up time counts from it.
	CreatedAt time.Time
	// Attempt counts the claims of this notification, this one included; it
	// fences the marks (a mark with an older attempt changes nothing).
	Attempt int
}
