package condition

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sitestat/sitestat/internal/text"
)

// MaxShown bounds an actual value quoted in an Outcome's Detail, in
// characters (the last being … when it was cut).
const MaxShown = 64

// Input is what one check observed, filled by the prober. A field the
// check's kind does not produce stays zero.
type Input struct {
	// Status is the final HTTP status code; 0 without a response.
	Status int
	// ResponseTime is the check's duration ([RESPONSE_TIME], compared in
	// whole milliseconds); for ICMP the round trip.
	ResponseTime time.Duration
	// Body is the response body as read (already capped by the prober);
	// for TCP the reply. Evaluate neither keeps nor changes it.
	Body []byte
	// Header is the final response's header ([HEADER].Name).
	Header http.Header
	// CertificateExpiration is the time left until the leaf certificate's
	// NotAfter; 0 without TLS.
	CertificateExpiration time.Duration
	// Connected is whether a connection (or an ICMP reply) was made.
	Connected bool
	// IP is the address connected to.
	IP string
	// DNS marks a DNS check: [BODY] then stands for DNSAnswers, and holds
	// when any answer does.
	DNS bool
	// DNSRcode is the DNS response code, as NOERROR, NXDOMAIN, SERVFAIL.
	DNSRcode string
	// DNSAnswers are the answers' data as text (an address, a name, a TXT
	// string), in the order received.
	DNSAnswers []string
}

// Outcome is how one condition fared.
type Outcome struct {
	// Condition is the condition as written.
	Condition string
	// Success is whether it held.
	Success bool
	// Detail, for a failed condition, is the condition with the actual
	// value of each placeholder, as Gatus shows it: "[STATUS] (503) == 200",
	// or why it could not be evaluated: "[BODY].db (INVALID: no such value)
	// == ok". Actual values are cut to MaxShown characters and control
	// characters escaped. Empty on success.
	Detail string
}

// value is one side resolved against an Input.
type value struct {
	s       string   // the value compared
	set     []string // a DNS [BODY]: compared element by element
	shown   string   // how it is displayed, when not s
	invalid string   // why it could not be resolved
}

// resolve evaluates o against ev.
func (ev *evaluation) resolve(o *operand, jsonIdx int) value {
	switch o.ph {
	case phNone:
		return value{s: o.lit}
	case phBody:
		return ev.body(o, jsonIdx)
	case phHeader:
		vs := ev.in.Header.Values(o.header)
		if o.fn == fnHas {
			return value{s: strconv.FormatBool(len(vs) > 0)}
		}
		if len(vs) == 0 {
			return value{invalid: "no such header"}
		}
		return withFn(strings.Join(vs, ", "), o.fn)
	case phCertExpiration:
		d := ev.in.CertificateExpiration
		v := withFn(strconv.FormatInt(d.Milliseconds(), 10), o.fn)
		if o.fn == fnNone {
			v.shown = formatDuration(d)
		}
		return v
	}
	return withFn(ev.scalar(o.ph), o.fn)
}

// scalar returns a placeholder that is a plain value.
func (ev *evaluation) scalar(ph placeholder) string {
	switch ph {
	case phStatus:
		return strconv.Itoa(ev.in.Status)
	case phResponseTime:
		return strconv.FormatInt(ev.in.ResponseTime.Milliseconds(), 10)
	case phConnected:
		return strconv.FormatBool(ev.in.Connected)
	case phIP:
		return ev.in.IP
	case phDNSRcode:
		return ev.in.DNSRcode
	}
	return ""
}

// withFn applies len() or has() to a plain value, as Gatus does.
func withFn(s string, fn function) value {
	switch fn {
	case fnLen:
		return value{s: strconv.Itoa(len(s))}
	case fnHas:
		return value{s: strconv.FormatBool(s != "")}
	}
	return value{s: s}
}

// body resolves [BODY], [BODY].path, len() and has() of them.
func (ev *evaluation) body(o *operand, jsonIdx int) value {
	if ev.in.DNS && !o.hasPath {
		switch o.fn {
		case fnLen:
			return value{s: strconv.Itoa(len(ev.in.DNSAnswers))}
		case fnHas:
			return value{s: strconv.FormatBool(len(ev.in.DNSAnswers) > 0)}
		}
		return value{set: ev.in.DNSAnswers, shown: strings.Join(ev.in.DNSAnswers, ", ")}
	}
	if !o.hasPath && o.fn != fnLen {
		b := ev.trimmedBody()
		if o.fn == fnHas {
			return value{s: strconv.FormatBool(b != "")}
		}
		return value{s: b}
	}
	jv, why := ev.json(jsonIdx)
	if !o.hasPath && o.fn == fnLen { // len([BODY]): an array's elements, else its bytes
		if jv.kind == jArray {
			return value{s: strconv.Itoa(jv.elems)}
		}
		return value{s: strconv.Itoa(len(ev.in.Body))}
	}
	found := jv.kind != jNone && jv.kind != jNull
	switch {
	case o.fn == fnHas:
		return value{s: strconv.FormatBool(found)}
	case jv.kind == jNull:
		return value{invalid: "null"}
	case !found:
		return value{invalid: why}
	case o.fn == fnLen:
		return value{s: strconv.Itoa(jv.length())}
	}
	return value{s: jv.text()}
}

// formatDuration shows a duration as Gatus does: whole seconds, without
// trailing zero units ("336h", "1h30m").
func formatDuration(d time.Duration) string {
	s := d.Truncate(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// display returns v as a failure detail shows it.
func (v value) display() string {
	if v.invalid != "" {
		return "INVALID: " + v.invalid
	}
	s := v.s
	if v.shown != "" || v.set != nil {
		s = v.shown
	}
	return text.Truncate(text.Terminal(s), MaxShown)
}

// numeric marks a resolved value that is not a number (nor a duration) as
// invalid, for an ordering operator.
func (v value) numeric() value {
	if v.invalid != "" || v.set != nil {
		return v
	}
	if _, ok := literalNumber(v.s); !ok {
		v.invalid = "not a number: " + text.Truncate(text.Terminal(v.s), MaxShown)
	}
	return v
}
