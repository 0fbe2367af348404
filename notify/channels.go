// Package notify delivers sitestat's notifications: the channels (a generic
// signed JSON webhook, a Slack incoming webhook, the PagerDuty Events API v2)
// and the loop that claims notifications from the outbox and delivers them at
// least once, with capped exponential backoff, until they are delivered or
// given up on. It takes its settings as plain values and never reads the
// environment; the outbox is any value with the Outbox methods (store.DB).
//
// Secrets — webhook and Slack URLs, the HMAC secret, the PagerDuty routing
// key, the heartbeat URL — never appear in its errors or logs: receivers are
// named by Redact (scheme and host only).
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/internal/text"
)

// Header names of the generic webhook.
const (
	// HeaderIdempotencyKey carries the notification id, the same on every
	// attempt, so a receiver can drop a repeat.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderSignature carries, when a webhook secret is set, "sha256=" and
	// the hex HMAC-SHA256, keyed with the secret, of HeaderTimestamp's value,
	// a dot and the body (see Sign).
	HeaderSignature = "X-Sitestat-Signature"
	// HeaderTimestamp carries the time of the attempt in unix seconds, in
	// decimal; it is signed with the body, so a receiver that refuses old
	// timestamps refuses a captured delivery replayed later.
	HeaderTimestamp = "X-Sitestat-Timestamp"
	// HeaderEvent carries the event (down, recovered, test).
	HeaderEvent = "X-Sitestat-Event"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Delivery is one attempt to send a message.
type Delivery struct {
	// Key identifies the notification for the receiver's deduplication: the
	// outbox id in decimal, or "test-…" for a test. Every attempt of one
	// notification has the same key.
	Key string
	// Message is what to send.
	Message alert.Message
}

// Sender sends messages to one channel.
type Sender interface {
	// Channel names the channel.
	Channel() alert.Channel
	// Receiver names where messages go without any secret (scheme and host).
	Receiver() string
	// Send makes one attempt. Its error never holds a secret.
	Send(ctx context.Context, d Delivery) error
}

// Options of the senders.
type Options struct {
	// Client sends the requests; nil means a client that follows no
	// redirect (a 3xx is a failure). Each attempt is bounded by its context.
	Client *http.Client
	// UserAgent is sent with every request; "" means "sitestat".
	UserAgent string
	// Now returns the time the webhook's signature carries; nil means
	// time.Now.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (o Options) userAgent() string {
	if o.UserAgent == "" {
		return "sitestat"
	}
	return o.UserAgent
}

// Redact returns the scheme and host of rawURL, e.g. "https://hooks.slack.com",
// fit for logs: the path, query and user info of a webhook URL are secrets.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// post sends body to rawURL and turns any outcome but a 2xx into an error
// that names the receiver by Redact and holds none of secrets.
func post(ctx context.Context, opts Options, rawURL string, body []byte, header http.Header, secrets ...string) error {
	return do(ctx, opts, http.MethodPost, rawURL, body, header, secrets...)
}

func do(ctx context.Context, opts Options, method, rawURL string, body []byte, header http.Header, secrets ...string) error {
	recv := Redact(rawURL)
	secrets = append(secrets, rawURL)
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return scrub(fmt.Errorf("%s %s: invalid request", method, recv), secrets)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", opts.userAgent())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := opts.client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error quotes the whole URL
		}
		return scrub(fmt.Errorf("%s %s: %v", method, recv, err), secrets)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return scrub(&StatusError{Receiver: recv, Code: resp.StatusCode, Body: text.Truncate(text.Terminal(strings.TrimSpace(string(snippet))), 200),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}, secrets)
	}
	return nil
}

// StatusError is a response other than 2xx.
type StatusError struct {
	// Receiver is the redacted receiver.
	Receiver string
	// Code is the HTTP status code.
	Code int
	// Body is the start of the response body, terminal-safe (internal/text).
	Body string
	// RetryAfter is the response's Retry-After, 0 when none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s answered HTTP %d", e.Receiver, e.Code)
	if b := strings.TrimSpace(e.Body); b != "" {
		s += ": " + b
	}
	return s
}

// retryAfter parses a Retry-After in seconds; 0 when absent or a date.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// scrubbedError is an error whose text had secrets replaced; it keeps a
// *StatusError for errors.As.
type scrubbedError struct {
	msg    string
	status *StatusError
}

func (e *scrubbedError) Error() string { return e.msg }

func (e *scrubbedError) Unwrap() error {
	if e.status == nil {
		return nil
	}
	return e.status
}

// scrub replaces every secret (and its URL-escaped forms) in err's text by
// "xxxxx", as a last line of defence: a receiver may echo what it was sent.
func scrub(err error, secrets []string) error {
	msg := err.Error()
	out := msg
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			out = strings.ReplaceAll(out, form, "xxxxx")
		}
		if u, perr := url.Parse(s); perr == nil && u.Host != "" {
			if p := strings.Trim(u.EscapedPath(), "/"); len(p) >= 4 {
				out = strings.ReplaceAll(out, p, "xxxxx")
			}
			if u.RawQuery != "" {
				out = strings.ReplaceAll(out, u.RawQuery, "xxxxx")
			}
		}
	}
	var se *StatusError
	errors.As(err, &se)
	if out == msg {
		return err
	}
	if se != nil {
		c := *se
		c.Body = "(withheld: it echoed a secret)"
		se = &c
	}
	return &scrubbedError{msg: out, status: se}
}

// Webhook is the generic JSON webhook: it POSTs the alert.Message as JSON
// (its texts as stored: URLs without user info, the error capped, but not
// escaped for any markup — a receiver that renders them must escape them;
// encoding/json writes "<", ">" and "&" as \u003c, \u003e and \u0026),
// with the delivery key in Idempotency-Key and, when a secret is set, the
// attempt's unix time in X-Sitestat-Timestamp and their signature (Sign) in
// X-Sitestat-Signature as "sha256=<hex>".
type Webhook struct {
	url    string
	secret []byte
	opts   Options
}

// NewWebhook returns the webhook sender to url, signing with secret when it
// is not empty.
func NewWebhook(url, secret string, opts Options) *Webhook {
	return &Webhook{url: url, secret: []byte(secret), opts: opts}
}

// Channel returns alert.ChannelWebhook.
func (w *Webhook) Channel() alert.Channel { return alert.ChannelWebhook }

// Receiver returns the redacted URL.
func (w *Webhook) Receiver() string { return Redact(w.url) }

// Send POSTs d.Message.
func (w *Webhook) Send(ctx context.Context, d Delivery) error {
	body, err := json.Marshal(d.Message)
	if err != nil {
		return fmt.Errorf("encode webhook body: %w", err)
	}
	h := http.Header{}
	h.Set(HeaderIdempotencyKey, d.Key)
	h.Set(HeaderEvent, string(d.Message.Event))
	if len(w.secret) > 0 {
		ts := w.opts.now().Unix()
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, Sign(w.secret, ts, body))
	}
	return post(ctx, w.opts, w.url, body, h, string(w.secret))
}

// Sign returns the signature header value of a body sent at timestamp
// (unix seconds): "sha256=" and the hex HMAC-SHA256, keyed with secret, of
// the timestamp in decimal, "." and the body. A receiver recomputes it over
// the X-Sitestat-Timestamp header and the raw body, compares with
// hmac.Equal, and refuses a timestamp more than 5 minutes from its clock.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Slack posts a text message to a Slack (or Mattermost) incoming webhook.
// Slack has no idempotency key: a repeat after a lost answer shows twice.
type Slack struct {
	url  string
	opts Options
}

// NewSlack returns the Slack sender to the incoming-webhook url.
func NewSlack(url string, opts Options) *Slack { return &Slack{url: url, opts: opts} }

// Channel returns alert.ChannelSlack.
func (s *Slack) Channel() alert.Channel { return alert.ChannelSlack }

// Receiver returns the redacted URL.
func (s *Slack) Receiver() string { return Redact(s.url) }

// Send posts {"text": …}.
func (s *Slack) Send(ctx context.Context, d Delivery) error {
	body, err := json.Marshal(map[string]string{"text": SlackText(d.Message)})
	if err != nil {
		return fmt.Errorf("encode slack body: %w", err)
	}
	return post(ctx, s.opts, s.url, body, nil)
}

// SlackText is the one-line text of m, in Slack's markup. Every text from m
// goes through SiteText and SlackEscape: a reason phrase such as
// "<!channel> <https://evil.example|Sign in>" shows as typed, pinging no one
// and linking nowhere.
func SlackText(m alert.Message) string {
	if m.Event == alert.EventTest {
		return ":white_check_mark: sitestat test notification: this channel works."
	}
	m = shown(m, SlackEscape)
	subject := subject(m)
	switch m.Event {
	case alert.EventRecovered:
		return fmt.Sprintf(":large_green_circle: %s %s after %s (incident #%d)",
			recoveredWord(m), subject, formatDuration(m.DurationSeconds), m.IncidentID)
	default:
		s := fmt.Sprintf(":red_circle: %s %s: %s", strings.ToUpper(eventWord(m)), subject, m.Reason)
		if m.Error != "" {
			s += " — " + m.Error
		}
		s += fmt.Sprintf(" (since %s", m.StartedAt.UTC().Format(time.RFC3339))
		if len(m.Probes) > 0 {
			s += ", probes " + strings.Join(m.Probes, ", ")
		}
		return s + fmt.Sprintf("; incident #%d)", m.IncidentID)
	}
}

// recoveredWord says how a recovered's incident ended: RECOVERED, or, when
// sitestat stopped watching the site, RESOLVED and why.
func recoveredWord(m alert.Message) string {
	switch m.Reason {
	case alert.ReasonSiteRemoved:
		return "RESOLVED (site removed from sitestat)"
	case alert.ReasonAlertingOff:
		return "RESOLVED (alerting turned off)"
	}
	return "RECOVERED"
}

// SiteText makes a text of a message (a URL, an error a monitored site
// wrote, a probe name) fit for any channel: on one line, every control
// character and escape sequence shown as its Go escape (internal/text). Each
// channel escapes the result for its own markup on top; a channel added later
// must do the same.
func SiteText(s string) string { return text.Terminal(s) }

// SlackEscape escapes the three characters Slack's mrkdwn gives a meaning to
// ("&", "<", ">"), as Slack's documentation asks: "<!channel>" and
// "<url|label>" then show as text.
func SlackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// shown returns m with every text a channel renders through SiteText and then
// escape.
func shown(m alert.Message, escape func(string) string) alert.Message {
	f := func(s string) string { return escape(SiteText(s)) }
	m.URL, m.Reason, m.Error, m.Kind = f(m.URL), f(m.Reason), f(m.Error), f(m.Kind)
	probes := make([]string, len(m.Probes))
	for i, p := range m.Probes {
		probes[i] = f(p)
	}
	m.Probes = probes
	return m
}

func plain(s string) string { return s }

func eventWord(m alert.Message) string {
	switch m.Kind {
	case alert.KindCertExpiry:
		return "certificate expiring"
	case alert.KindProbeSilent:
		return "probe silent"
	}
	return "down"
}

// subject names what the incident is about: the URL and site id, or the probes.
func subject(m alert.Message) string {
	switch {
	case m.URL != "" && m.WebsiteID != nil:
		return fmt.Sprintf("%s (site %d)", m.URL, *m.WebsiteID)
	case m.WebsiteID != nil:
		return fmt.Sprintf("site %d", *m.WebsiteID)
	case len(m.Probes) > 0:
		return "probe " + strings.Join(m.Probes, ", ")
	}
	return "sitestat"
}

func formatDuration(seconds float64) string {
	return (time.Duration(seconds) * time.Second).String()
}

// PagerDuty sends PagerDuty Events API v2 events: a down is a "trigger", a
// recovered a "resolve", both with dedup_key "sitestat-incident-<id>" so the
// resolve closes the alert the trigger opened.
type PagerDuty struct {
	url  string
	key  string
	opts Options
}

// NewPagerDuty returns the PagerDuty sender with routing key key, posting to
// endpoint ("" means DefaultPagerDutyURL).
func NewPagerDuty(endpoint, key string, opts Options) *PagerDuty {
	if endpoint == "" {
		endpoint = DefaultPagerDutyURL
	}
	return &PagerDuty{url: endpoint, key: key, opts: opts}
}

// Channel returns alert.ChannelPagerDuty.
func (p *PagerDuty) Channel() alert.Channel { return alert.ChannelPagerDuty }

// Receiver returns the redacted endpoint.
func (p *PagerDuty) Receiver() string { return Redact(p.url) }

// PagerDutyEvent is the body of an Events API v2 request.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger or resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"` // trigger only
}

// PagerDutyPayload is the payload of a trigger.
type PagerDutyPayload struct {
	Summary       string        `json:"summary"`
	Source        string        `json:"source"`
	Severity      string        `json:"severity"` // critical, error, warning or info
	Timestamp     string        `json:"timestamp,omitempty"`
	Component     string        `json:"component,omitempty"`
	Group         string        `json:"group,omitempty"`
	Class         string        `json:"class,omitempty"`
	CustomDetails alert.Message `json:"custom_details"`
}

// pagerDutySummaryLen is PagerDuty's limit on a summary, in characters.
const pagerDutySummaryLen = 1024

// DedupKey is the PagerDuty dedup_key of incident id.
func DedupKey(incidentID int64) string {
	return "sitestat-incident-" + strconv.FormatInt(incidentID, 10)
}

// Send sends a trigger for a down, a resolve for a recovered. A test is a
// trigger of severity info followed at once by its resolve, so it leaves no
// open alert behind.
func (p *PagerDuty) Send(ctx context.Context, d Delivery) error {
	m := d.Message
	switch m.Event {
	case alert.EventRecovered:
		return p.send(ctx, PagerDutyEvent{EventAction: "resolve", DedupKey: DedupKey(m.IncidentID)})
	case alert.EventTest:
		key := "sitestat-" + d.Key
		ev := p.trigger(m, key)
		ev.Payload.Severity = "info"
		ev.Payload.Summary = "sitestat test notification: this channel works (resolved at once)"
		if err := p.send(ctx, ev); err != nil {
			return err
		}
		return p.send(ctx, PagerDutyEvent{EventAction: "resolve", DedupKey: key})
	default:
		return p.send(ctx, p.trigger(m, DedupKey(m.IncidentID)))
	}
}

// trigger builds the trigger of m. PagerDuty shows summary, source, group
// and class as plain text: they go through SiteText (one line, no control
// characters) and the summary is cut to PagerDuty's 1024 characters;
// custom_details is the message itself, as JSON.
func (p *PagerDuty) trigger(m alert.Message, dedup string) PagerDutyEvent {
	details := m
	m = shown(m, plain)
	source := m.URL
	if source == "" {
		source = "sitestat"
	}
	summary := fmt.Sprintf("%s %s: %s", strings.ToUpper(eventWord(m)), subject(m), m.Reason)
	if m.Error != "" {
		summary += " — " + m.Error
	}
	summary = text.Truncate(summary, pagerDutySummaryLen)
	pl := &PagerDutyPayload{Summary: summary, Source: source, Severity: "critical",
		Group: m.Kind, Class: m.Reason, CustomDetails: details}
	if !m.StartedAt.IsZero() {
		pl.Timestamp = m.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if m.WebsiteID != nil {
		pl.Component = "site " + strconv.FormatInt(*m.WebsiteID, 10)
	}
	return PagerDutyEvent{EventAction: "trigger", DedupKey: dedup, Payload: pl}
}

func (p *PagerDuty) send(ctx context.Context, ev PagerDutyEvent) error {
	ev.RoutingKey = p.key
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode pagerduty event: %w", err)
	}
	if err := post(ctx, p.opts, p.url, body, nil, p.key); err != nil {
		return fmt.Errorf("pagerduty %s: %w", ev.EventAction, err)
	}
	return nil
}

// Ping GETs rawURL (a heartbeat, dead man's switch URL) once.
func Ping(ctx context.Context, opts Options, rawURL string) error {
	return do(ctx, opts, http.MethodGet, rawURL, nil, nil)
}

// Test sends a test message through s and returns the result of the attempt.
func Test(ctx context.Context, s Sender, key string) error {
	return s.Send(ctx, Delivery{Key: key, Message: alert.Message{
		V: alert.Version, Event: alert.EventTest, Kind: "test", Probes: []string{},
		StartedAt: time.Now().UTC().Truncate(time.Second),
	}})
}
