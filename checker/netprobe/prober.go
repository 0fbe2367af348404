package netprobe

import (
	"context"
	"crypto/x509"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
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
	return Outcome{}
}

// control is the dialer's Control: Options.Deny on the address about to be
// connected to.
func (p *Prober) control(network, address string, _ syscall.RawConn) error {
	return nil
}
