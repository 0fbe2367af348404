package netprobe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sitestat/sitestat/internal/text"
)

// Defaults used for the zero fields of Options.
const (
	DefaultTimeout  = 10 * time.Second // per check, as checker.DefaultTimeout
	DefaultMaxReply = 4 << 10          // bytes of a TCP reply read
)

// Bounds on what a target controls, before it leaves the probe.
const (
	// MaxErrorLen bounds Outcome.Error, in characters (as checker.MaxErrorLen).
	MaxErrorLen = 240
	// MaxAnswers bounds how many DNS answers an Outcome keeps.
	MaxAnswers = 32
	// MaxAnswerLen bounds one DNS answer, in characters.
	MaxAnswerLen = 512
	// MaxNameLen bounds a certificate's subject or issuer, in characters.
	MaxNameLen = 256
)

// Options say how targets are probed, the same for every check of a
// checker. The zero value is usable.
type Options struct {
	// Timeout bounds one check when its Spec has none (DefaultTimeout when 0).
	Timeout time.Duration
	// MaxReply is how many bytes of a TCP reply are read at most
	// (DefaultMaxReply when 0). Reaching it ends the read.
	MaxReply int
	// RootCAs verifies tls targets; nil means the system roots (as
	// checker.ProbeOptions.RootCAs, so one pool serves both). For system
	// roots plus others, pass a clone of x509.SystemCertPool with them added.
	RootCAs *x509.CertPool
	// Deny, when set, is asked about every address before it is connected
	// to, queried or pinged (after DNS): an error refuses it and the check
	// gives ReasonBlocked with the error's text. Pass the checker's
	// DenyPrivate test here.
	Deny func(netip.Addr) error
	// OpenICMP opens an ICMP socket for IPv4 (v6 false) or IPv6; nil means
	// DefaultOpenICMP. Tests inject one that fails or never answers.
	OpenICMP OpenICMPFunc
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxReply <= 0 {
		o.MaxReply = DefaultMaxReply
	}
	if o.OpenICMP == nil {
		o.OpenICMP = DefaultOpenICMP
	}
	return o
}

// Outcome is what one probe found. Fields that do not apply to the kind, or
// to how far the check got, are zero.
type Outcome struct {
	// Kind is the target's kind.
	Kind Kind
	// Reason is ReasonOK or why the check failed (the earliest phase).
	Reason Reason
	// Error is a short explanation, at most MaxErrorLen characters; empty
	// when Reason is ReasonOK.
	Error string
	// Connected is true when the target answered: a TCP connection (tcp,
	// tls), a DNS response of any rcode (dns), an echo reply (icmp).
	Connected bool
	// IP is the address connected to, queried (the resolver's) or pinged;
	// invalid when the name did not resolve.
	IP netip.Addr
	// Duration is the whole check ([RESPONSE_TIME]): connect, send and
	// read (tcp), connect and handshake (tls), the exchanges (dns), the
	// echo's round trip (icmp).
	Duration time.Duration
	// Connect is the TCP connect time (tcp, tls).
	Connect time.Duration

	// Reply is what was read from a tcp target, at most Options.MaxReply
	// bytes: up to Expect when it was found, else what came before EOF, the
	// limit or the deadline. Without Expect or ReadReply nothing is read.
	Reply []byte

	// TLSVersion is the negotiated version ("TLS 1.3").
	TLSVersion string
	// Chain is the certificates the server presented, leaf first.
	Chain []Cert
	// CertNotAfter is when the leaf expires ([CERTIFICATE_EXPIRATION]).
	CertNotAfter time.Time
	// Verified is true when the chain verified against the roots for the
	// name (SNI, else the host).
	Verified bool

	// Rcode is the DNS response code's name ("NOERROR", "NXDOMAIN"…).
	Rcode string
	// Answers are the answers of the asked type, as text: an address for A
	// and AAAA, a name for CNAME, MX (the exchange, without preference) and
	// NS (fully qualified, with the final dot), the strings joined for TXT.
	// At most MaxAnswers, each at most MaxAnswerLen characters.
	Answers []string
	// OverTCP is true when the UDP answer was truncated and the query was
	// made again over TCP.
	OverTCP bool
}

// Cert describes one certificate of a chain.
type Cert struct {
	// Subject and Issuer are the distinguished names, at most MaxNameLen
	// characters.
	Subject, Issuer string
	// NotBefore and NotAfter bound the validity, in UTC.
	NotBefore, NotAfter time.Time
}

// Prober probes Targets. It is safe for concurrent use; make one per
// checker and Close it when done.
type Prober struct {
	opts   Options
	dialer net.Dialer

	mu     sync.Mutex
	closed bool
	icmp   [2]*pinger // IPv4, IPv6; opened on first use
}

// NewProber returns a Prober with opts (zero fields take their defaults).
func NewProber(opts Options) *Prober {
	opts = opts.withDefaults()
	p := &Prober{opts: opts}
	p.dialer = net.Dialer{KeepAlive: -1, Control: p.control}
	return p
}

// Options returns the options p uses, defaults filled in.
func (p *Prober) Options() Options { return p.opts }

// Close closes the ICMP sockets; ICMP checks in flight end with
// ReasonProbeError, later ones too. Other checks are not affected.
func (p *Prober) Close() error {
	p.mu.Lock()
	p.closed = true
	ps := p.icmp
	p.icmp = [2]*pinger{}
	p.mu.Unlock()
	var first error
	for _, pg := range ps {
		if pg != nil {
			if err := pg.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Probe checks t once. It never fails: whatever happened to the target is in
// the Outcome. ctx bounds the check besides the timeout; a cancelled ctx
// gives ReasonProbeError.
func (p *Prober) Probe(ctx context.Context, t *Target) Outcome {
	out := Outcome{Kind: t.kind}
	if t.err != nil {
		out.Reason, out.Error = ReasonInvalidConfig, shorten(t.err.Error())
		return out
	}
	timeout := p.opts.Timeout
	if t.spec.Timeout > 0 {
		timeout = t.spec.Timeout
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), 0).Round(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ck := &check{ctx: ctx, timeout: timeout, start: time.Now(), phase: "connect", out: &out}
	var err error
	switch t.kind {
	case KindTCP:
		err = p.probeTCP(ck, t)
	case KindDNS:
		err = p.probeDNS(ck, t)
	case KindTLS:
		err = p.probeTLS(ck, t)
	default:
		err = p.probeICMP(ck, t)
	}
	if out.Duration == 0 {
		out.Duration = time.Since(ck.start)
	}
	switch {
	case err != nil:
		out.Reason, out.Error = ck.classify(err)
	case out.Reason == "":
		out.Reason = ReasonOK
	}
	out.Error = shorten(out.Error)
	return out
}

// check is one probe under way.
type check struct {
	ctx     context.Context // carries the check's deadline
	timeout time.Duration   // that deadline, for the error text
	start   time.Time
	phase   string // where the check is, for a timeout's text
	out     *Outcome
}

// failure is an error that already says its Reason.
type failure struct {
	reason Reason
	text   string
}

func (f *failure) Error() string { return f.text }

// fail returns the error of a check that failed as reason says.
func fail(reason Reason, format string, args ...any) error {
	return &failure{reason: reason, text: fmt.Sprintf(format, args...)}
}

// errBlocked is wrapped by the error of an address Options.Deny refused.
var errBlocked = errors.New("blocked")

// classify maps the error of a check to its Reason and text.
func (ck *check) classify(err error) (Reason, string) {
	var f *failure
	var dnsErr *net.DNSError
	var be *blockedError
	switch {
	case errors.As(err, &f):
		return f.reason, f.text
	case errors.As(err, &be):
		return ReasonBlocked, be.err.Error()
	case errors.Is(ck.ctx.Err(), context.Canceled):
		return ReasonProbeError, "check cancelled"
	case isTimeout(ck.ctx, err):
		return ReasonTimeout, fmt.Sprintf("timeout after %s during %s", ck.timeout, ck.phase)
	case errors.Is(err, context.Canceled):
		return ReasonProbeError, "check cancelled"
	case errors.As(err, &dnsErr):
		return ReasonDNSError, dnsErr.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonConnectionRefused, innermost(err)
	default:
		return ReasonConnectionError, innermost(err)
	}
}

// innermost returns the text of a network error without the "dial tcp"
// wrapping (the address stays: it is the one connected to).
func innermost(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		if oe.Addr != nil {
			return oe.Addr.String() + ": " + oe.Err.Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
}

// isTimeout reports whether err comes from a deadline: the check's own, a
// network timeout, or ctx's.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// shorten bounds an error text to MaxErrorLen characters.
func shorten(s string) string { return text.Truncate(s, MaxErrorLen) }

// blockedError is the error of an address Options.Deny refused.
type blockedError struct{ err error }

func (b *blockedError) Error() string { return "blocked: " + b.err.Error() }
func (b *blockedError) Unwrap() error { return errBlocked }

// deny asks Options.Deny about addr.
func (p *Prober) deny(addr netip.Addr) error {
	if p.opts.Deny == nil {
		return nil
	}
	if err := p.opts.Deny(addr.Unmap().WithZone("")); err != nil {
		return &blockedError{err: err}
	}
	return nil
}

// control is the dialer's Control: Options.Deny on the address about to be
// connected to, after DNS.
func (p *Prober) control(network, address string, _ syscall.RawConn) error {
	if p.opts.Deny == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &blockedError{err: fmt.Errorf("cannot tell whether %q is allowed: %v", address, err)}
	}
	return p.deny(ap.Addr())
}

// dial connects to addr (host:port) over TCP within ck's deadline, and
// records the connect time and the address.
func (p *Prober) dial(ck *check, addr string) (net.Conn, error) {
	if host, _, err := net.SplitHostPort(addr); err == nil && isInvalidTLD(host) {
		// RFC 6761 §6.4: names under .invalid never resolve; say so
		// without asking the network (as checker does).
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	ck.phase = "connect"
	t0 := time.Now()
	conn, err := p.dialer.DialContext(ck.ctx, "tcp", addr)
	ck.out.Connect = time.Since(t0)
	if err != nil {
		return nil, err
	}
	ck.out.Connected = true
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		ck.out.IP = ta.AddrPort().Addr().Unmap()
	}
	if d, ok := ck.ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			conn.Close()
			return nil, err
		}
	}
	// A cancelled check ends its reads and writes at once (a conn already
	// closed has nothing left to stop).
	stop := context.AfterFunc(ck.ctx, func() { _ = conn.SetDeadline(time.Now()) })
	return &stopConn{Conn: conn, stop: stop}, nil
}

// isInvalidTLD reports whether host is under the special-use .invalid domain.
func isInvalidTLD(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "invalid" || strings.HasSuffix(host, ".invalid")
}

// stopConn is a connection whose Close also ends the AfterFunc that would
// interrupt it when its check is cancelled.
type stopConn struct {
	net.Conn
	stop func() bool
}

func (c *stopConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
