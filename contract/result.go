package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Version is the value of Result.V this build writes and the only one it reads.
const Version = 1

// DefaultProbe is Result.Probe when none is given.
const DefaultProbe = "default"

// MaxErrorLen bounds Result.Error, in characters; Decode cuts a longer one.
const MaxErrorLen = 240

// Reason says why a check came out the way it did. The constants below are
// the reasons this build writes. Readers accept any well-formed reason
// (1 to 32 characters of a-z and _), so results of a newer checker that knows
// more reasons are stored by an older sync; only "ok" means up.
type Reason string

// The reasons a check can give. Up is true exactly when the reason is ReasonOK.
// When several things fail, the earliest phase wins (a 500 is
// ReasonHTTPStatus whatever the regex says).
const (
	ReasonOK                = Reason("ok")                 // 2xx and, when configured, the regex matched
	ReasonHTTPStatus        = Reason("http_status")        // the final status was not 2xx
	ReasonRegexMismatch     = Reason("regex_mismatch")     // 2xx but up_regex did not match the body
	ReasonTimeout           = Reason("timeout")            // any deadline in any phase; the phase is in Error
	ReasonDNSError          = Reason("dns_error")          // the host name did not resolve
	ReasonConnectionRefused = Reason("connection_refused") // nothing listens on the port
	ReasonConnectionError   = Reason("connection_error")   // reset, unreachable, malformed HTTP, other network failure
	ReasonTLSError          = Reason("tls_error")          // handshake or certificate verification failed
	ReasonRedirectError     = Reason("redirect_error")     // more redirects than allowed
	ReasonBodyReadError     = Reason("body_read_error")    // the body could not be read to the limit
	ReasonInvalidConfig     = Reason("invalid_config")     // the site's URL or regex is invalid
	ReasonProbeError        = Reason("probe_error")        // the checker itself failed
	ReasonBlocked           = Reason("blocked")            // the address is private or special-use and ProbeOptions.DenyPrivate is on
)

// Reasons lists every valid Reason.
var Reasons = []Reason{
	ReasonOK, ReasonHTTPStatus, ReasonRegexMismatch, ReasonTimeout, ReasonDNSError,
	ReasonConnectionRefused, ReasonConnectionError, ReasonTLSError, ReasonRedirectError,
	ReasonBodyReadError, ReasonInvalidConfig, ReasonProbeError, ReasonBlocked,
}

// Valid reports whether r is one of the reasons this build knows.
func (r Reason) Valid() bool {
	for _, k := range Reasons {
		if r == k {
			return true
		}
	}
	return false
}

// WellFormed reports whether r has the form of a reason: 1 to 32 characters,
// each a lower-case ASCII letter or '_'. Decode accepts any well-formed
// reason, known or not.
func (r Reason) WellFormed() bool {
	if len(r) < 1 || len(r) > 32 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c != '_' && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// Phases are the durations of the phases of one HTTP exchange, in
// milliseconds, as measured by net/http/httptrace. A phase that did not happen
// (no DNS for an IP literal, no TLS for http) is 0. With redirects, the phases
// add up over every request of the chain.
type Phases struct {
	DNSMs      float64 `json:"dns"`      // name resolution
	ConnectMs  float64 `json:"connect"`  // TCP connect
	TLSMs      float64 `json:"tls"`      // TLS handshake
	TTFBMs     float64 `json:"ttfb"`     // request written to first response byte
	TransferMs float64 `json:"transfer"` // first response byte to the end of the body read
}

// Result is what one check of one website records. It is the Kafka message
// value (JSON) that `check` produces and `sync` stores; the message key is the
// website id in ASCII decimal. Fields are never renamed; new fields may be
// added (readers ignore unknown fields), and an incompatible change bumps V.
type Result struct {
	// V is the contract version, always Version. Required.
	V int `json:"v"`
	// CheckID is a UUID identifying this check; sync stores each CheckID
	// once. A scheduled check's is SlotCheckID(site, probe, slot), the same
	// in every process of the probe; a --once check's is random. Required.
	CheckID string `json:"check_id"`
	// WebsiteID is websites.id of the checked site. Required.
	WebsiteID int64 `json:"website_id"`
	// URL is the URL that was checked, as configured.
	URL string `json:"url"`
	// CheckedAt is the check's scheduled time, its slot (see SlotAt), in
	// UTC: the request started at most LagMs later. Every process of a
	// probe computes the same slots, so two checks of one slot have equal
	// CheckedAt and CheckID and are stored once. A check not run on the
	// schedule (`check --once`, older checkers) has the request's start.
	// Required.
	CheckedAt time.Time `json:"checked_at"`
	// Probe names the checking location (SITESTAT_PROBE, default "default"):
	// history, rollups and state are kept per probe, so it stays the same
	// across redeploys of the checker.
	Probe string `json:"probe"`
	// Host is the name of the machine that ran the check (its hostname); it
	// changes with every redeploy, so nothing is grouped by it. Empty in
	// results of older checkers.
	Host string `json:"host"`
	// Up is true exactly when Reason is "ok". Required.
	Up bool `json:"up"`
	// Reason says why the check came out as it did. Required.
	Reason Reason `json:"reason"`
	// StatusCode is the final HTTP status, nil when no response arrived.
	StatusCode *int `json:"status_code"`
	// ResponseTimeMs is the total time of the check in milliseconds, redirects and body read included.
	ResponseTimeMs float64 `json:"response_time_ms"`
	// PhasesMs breaks ResponseTimeMs down by phase.
	PhasesMs Phases `json:"phases_ms"`
	// Redirects is how many redirects were followed.
	Redirects int `json:"redirects"`
	// FinalURL is the URL of the last request made (after redirects).
	FinalURL string `json:"final_url"`
	// BodyBytes is how many bytes of the body were read (at most the configured limit).
	BodyBytes int64 `json:"body_bytes"`
	// RegexMatched is whether up_regex matched the body read; nil when the site has no regex or no body was read.
	RegexMatched *bool `json:"regex_matched"`
	// Error is a short human explanation, at most MaxErrorLen characters
	// (Decode cuts a longer one); empty when Reason is "ok".
	Error string `json:"error"`
	// TLSVersion is the negotiated TLS version ("TLS 1.3") for https, empty otherwise.
	TLSVersion string `json:"tls_version,omitempty"`
	// CertNotAfter is when the leaf certificate expires, for https.
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
	// StartedAt is when the request really started, in UTC; absent in
	// results of older checkers.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// LagMs is StartedAt − CheckedAt in milliseconds: how late the check
	// started after its slot. Absent when the check had no slot (--once)
	// and in results of older checkers.
	LagMs *float64 `json:"lag_ms,omitempty"`

	// Raw is the message value as received, set by Decode; it is not part of
	// the message. sync stores Raw, not a re-encoding, so the fields a newer
	// checker adds survive an older sync.
	Raw []byte `json:"-"`
}

// Key is the Kafka message key for r: the website id in ASCII decimal.
func (r *Result) Key() []byte { return strconv.AppendInt(nil, r.WebsiteID, 10) }

// Encode returns the JSON message value for r.
func (r *Result) Encode() ([]byte, error) {
	if b, ok := r.appendJSON(make([]byte, 0, 512)); ok {
		return b, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// ErrBadMessage is wrapped by every error Decode returns for a message that
// does not honour the contract.
var ErrBadMessage = errors.New("bad message")

// wire is the shape Decode reads, in one pass: the required fields as
// pointers, shadowing the embedded Result's, so a missing one can be told
// apart from a zero value.
type wire struct {
	Result
	V         *int       `json:"v"`
	CheckID   *string    `json:"check_id"`
	WebsiteID *int64     `json:"website_id"`
	CheckedAt *time.Time `json:"checked_at"`
	Up        *bool      `json:"up"`
	Reason    *Reason    `json:"reason"`
}

// Decode parses a message key and value into a Result and checks the
// contract: valid UTF-8 JSON of the right types, every required field
// present, a known version, a UUID check id, a well-formed reason with
// up == (reason == "ok"), and a key that, when present, equals website_id.
// Unknown fields and reasons are accepted; the Result's Raw is value itself.
// Every error wraps ErrBadMessage.
func Decode(key, value []byte) (Result, error) {
	if !utf8.Valid(value) {
		// encoding/json would replace the bad bytes; PostgreSQL's jsonb refuses them.
		return Result{}, fmt.Errorf("%w: the value is not valid UTF-8", ErrBadMessage)
	}
	var w wire
	if err := json.Unmarshal(value, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Result{}, fmt.Errorf("%w: field %q has the wrong type (%s, want %s)", ErrBadMessage, te.Field, te.Value, te.Type)
		}
		return Result{}, fmt.Errorf("%w: invalid JSON: %v", ErrBadMessage, err)
	}
	switch {
	case w.V == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"v\"", ErrBadMessage)
	case *w.V != Version:
		return Result{}, fmt.Errorf("%w: unknown version v=%d (this build reads v=%d)", ErrBadMessage, *w.V, Version)
	case w.CheckID == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"check_id\"", ErrBadMessage)
	case !isUUID(*w.CheckID):
		return Result{}, fmt.Errorf("%w: check_id %q is not a UUID", ErrBadMessage, *w.CheckID)
	case w.WebsiteID == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"website_id\"", ErrBadMessage)
	case *w.WebsiteID <= 0:
		return Result{}, fmt.Errorf("%w: website_id %d is not positive", ErrBadMessage, *w.WebsiteID)
	case w.CheckedAt == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"checked_at\"", ErrBadMessage)
	case w.Up == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"up\"", ErrBadMessage)
	case w.Reason == nil:
		return Result{}, fmt.Errorf("%w: missing required field \"reason\"", ErrBadMessage)
	case !w.Reason.WellFormed():
		return Result{}, fmt.Errorf("%w: reason %q is not 1-32 characters of a-z and _", ErrBadMessage, truncate([]byte(*w.Reason), 40))
	case *w.Up != (*w.Reason == ReasonOK):
		return Result{}, fmt.Errorf("%w: up=%t contradicts reason %q", ErrBadMessage, *w.Up, *w.Reason)
	}
	if len(key) > 0 {
		id, err := strconv.ParseInt(string(key), 10, 64)
		if err != nil || id != *w.WebsiteID {
			return Result{}, fmt.Errorf("%w: key %q disagrees with website_id %d", ErrBadMessage, truncate(key, 32), *w.WebsiteID)
		}
	}
	r := w.Result
	r.V, r.CheckID, r.WebsiteID, r.CheckedAt, r.Up, r.Reason = *w.V, *w.CheckID, *w.WebsiteID, w.CheckedAt.UTC(), *w.Up, *w.Reason
	r.Error = truncateText(r.Error, MaxErrorLen) // whatever the checker that wrote it
	r.Raw = value
	return r, nil
}

// truncate returns b as text cut to n characters, for error messages.
func truncate(b []byte, n int) string { return truncateText(string(b), n) }

// ellipsis ends a text truncateText cut.
const ellipsis = "…"

// truncateText returns s cut to at most n characters (runes, as
// PostgreSQL's varchar(n) counts them), never inside a UTF-8 character: a
// longer s gives its first n-1 characters and ellipsis. It is
// internal/text.Truncate, repeated so that the contract imports nothing of
// the project; TestTruncateText holds the two together.
func truncateText(s string, n int) string {
	if n < 1 {
		return ""
	}
	if len(s) <= n {
		return s // at most n bytes, so at most n characters
	}
	count, cut := 0, -1
	for i := range s { // i steps over characters, an invalid byte being one
		if count == n-1 {
			cut = i
		}
		if count == n {
			return s[:cut] + ellipsis
		}
		count++
	}
	return s
}

// isUUID reports whether s is a UUID in its canonical 36-character text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
