package netprobe

// Reason says why a check came out as it did: the same closed list as
// checker.Reason, with the reasons only these kinds give. Only ReasonOK
// means up.
type Reason string

// The reasons a probe gives. When several things fail, the earliest phase
// wins (a refused connection is ReasonConnectionRefused whatever Expect says).
const (
	ReasonOK                = Reason("ok")                 // connected, and every check of the kind passed
	ReasonTimeout           = Reason("timeout")            // the deadline passed; the phase is in Error
	ReasonDNSError          = Reason("dns_error")          // the host (or the resolver's name) did not resolve
	ReasonConnectionRefused = Reason("connection_refused") // nothing listens on the port
	ReasonConnectionError   = Reason("connection_error")   // reset, unreachable, malformed answer, other network failure
	ReasonTLSError          = Reason("tls_error")          // handshake or certificate verification failed
	ReasonInvalidConfig     = Reason("invalid_config")     // the site's URL or options are invalid
	ReasonProbeError        = Reason("probe_error")        // the checker itself failed (cancelled, closed, socket error)
	ReasonBlocked           = Reason("blocked")            // Options.Deny refused the address

	ReasonExpectMismatch   = Reason("expect_mismatch")    // tcp: the reply did not contain Expect
	ReasonDNSRcode         = Reason("dns_rcode")          // dns: the answer's rcode was not NOERROR
	ReasonDNSNoAnswer      = Reason("dns_no_answer")      // dns: NOERROR, but no record of the asked type
	ReasonICMPNotPermitted = Reason("icmp_not_permitted") // icmp: neither a datagram nor a raw ICMP socket is allowed
)

// Reasons lists every Reason a probe gives.
var Reasons = []Reason{
	ReasonOK, ReasonTimeout, ReasonDNSError, ReasonConnectionRefused, ReasonConnectionError,
	ReasonTLSError, ReasonInvalidConfig, ReasonProbeError, ReasonBlocked,
	ReasonExpectMismatch, ReasonDNSRcode, ReasonDNSNoAnswer, ReasonICMPNotPermitted,
}

// Kind is the kind of a check, named by its URL's scheme.
type Kind string

// The kinds this package probes.
const (
	KindTCP  = Kind("tcp")
	KindDNS  = Kind("dns")
	KindTLS  = Kind("tls")
	KindICMP = Kind("icmp")
)

// KindOf returns the kind of a URL scheme ("tcp", "dns", "tls", "icmp";
// case-insensitive) and whether it is one of this package's.
func KindOf(scheme string) (Kind, bool) {
	switch k := Kind(lower(scheme)); k {
	case KindTCP, KindDNS, KindTLS, KindICMP:
		return k, true
	}
	return "", false
}

// lower is strings.ToLower for ASCII, the only case URL schemes have.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
