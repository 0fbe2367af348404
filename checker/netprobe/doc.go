// Package netprobe checks the kinds of site that are not HTTP: a TCP port, a
// DNS record, a TLS handshake and an ICMP echo (issue 20). It is a building
// block of the checker and imports nothing of sitestat's but internal/text,
// so that checker (or the contract package) can import it.
//
// # Targets
//
// A site of one of these kinds is a URL (see the README's "Checks" section):
//
//	tcp://HOST:PORT                       connect; optional Send and Expect
//	dns://RESOLVER[:PORT]/NAME?type=TYPE  one query (UDP, TCP on truncation); TYPE is A (default), AAAA, CNAME, MX, TXT or NS
//	tls://HOST[:PORT][?sni=NAME]          handshake only; PORT defaults to 443
//	icmp://HOST                           one echo request
//
// KindOf tells by the scheme whether a URL is one of these kinds. NewTarget
// compiles a Spec (the URL, with ${env:…} references already resolved, and
// the per-site options) once; it never fails: Target.Err says why a site is
// invalid, in one line that never quotes user information of the URL. Call
// Validate (the same check) when a site is added, to refuse it there.
//
// # Probing
//
// Make one Prober per checker with NewProber(Options) and Close it when the
// checker stops: it holds the ICMP sockets (opened lazily, one per address
// family, shared by every ICMP check, since every raw socket receives every
// reply; a reader demultiplexes the replies by identifier and sequence to
// the waiting checks). Then, for each check:
//
//	out := prober.Probe(ctx, target)
//
// Probe never fails: what happened to the site is in the Outcome, whose
// Reason is ReasonOK or the earliest failing phase's reason (one of Reasons);
// an invalid target gives ReasonInvalidConfig. One deadline bounds the whole
// check: min(Spec.Timeout or Options.Timeout, ctx's deadline); the caller
// passes the site's interval as ctx's deadline when it is shorter.
//
// # Mapping to a Result
//
// The Reason values equal checker.Reason's where they mean the same
// ("ok", "timeout", "dns_error", "connection_refused", "connection_error",
// "tls_error", "invalid_config", "probe_error", "blocked"), so
// checker.Reason(out.Reason) is a valid reason; the new ones
// (ReasonExpectMismatch, ReasonDNSRcode, ReasonDNSNoAnswer,
// ReasonICMPNotPermitted) are to move into the contract with the
// integration. The Outcome's fields feed the conditions' placeholders:
//
//	[CONNECTED]               Outcome.Connected
//	[RESPONSE_TIME]           Outcome.Duration (the round trip for icmp)
//	[IP]                      Outcome.IP
//	[BODY]                    tcp: Outcome.Reply; dns: any of Outcome.Answers
//	[DNS_RCODE]               Outcome.Rcode
//	[CERTIFICATE_EXPIRATION]  time until Outcome.CertNotAfter (tls)
//
// A check whose conditions name [DNS_RCODE] (to require NXDOMAIN, say) may
// judge the rcode by its conditions instead: Outcome.Rcode and
// Outcome.Answers are set whatever the Reason. Likewise Reply is set when
// Expect was not found. Text in an Outcome that the target controls
// (Reply, Answers, the certificates' names, Error) is hostile: it is capped
// here, and must be escaped wherever it is shown.
package netprobe
