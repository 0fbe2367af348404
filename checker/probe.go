// Package checker probes websites and schedules their checks: Prober.Probe
// makes one HTTP check of a Target and returns a contract.Result whatever
// happened to the site, and a Runner checks every site of a SiteSource on
// its slots (SlotAt) and hands each Result, encoded, to a Publisher. What a
// Result is lives in package contract; only the CLI imports checker.
package checker

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/text"
)

// Defaults used for the zero fields of ProbeOptions.
const (
	DefaultTimeout      = 10 * time.Second // per check, before min(Timeout, Site.Interval)
	DefaultMaxRedirects = 10               // redirects followed before ReasonRedirectError
	DefaultMaxBody      = 1 << 20          // bytes of body read (and matched against up_regex)
	DefaultUserAgent    = "sitestat"       // User-Agent header when none is given
)

// What a monitored site controls is capped before it leaves the checker:
// Result.Error is a short human text, not a dump, and the HTTP reason phrase
// it quotes ("HTTP 503 Service Unavailable") is shorter still. Lengths are in
// characters; a longer text ends with "…". Decode applies MaxErrorLen to
// results from any checker, so sync stores and alerts nothing longer.
const (
	// MaxReasonPhraseLen bounds the reason phrase quoted in Result.Error.
	MaxReasonPhraseLen = 64
)

// ProbeOptions say how websites are checked. The zero value is usable: every
// zero field takes its default, except MaxRedirects (0 follows none).
type ProbeOptions struct {
	// Timeout bounds one check (DefaultTimeout when 0). A check of a site
	// runs at most min(Timeout, Site.Interval).
	Timeout time.Duration
	// MaxRedirects is how many redirects a check follows; one more is
	// ReasonRedirectError. 0 (or negative) follows none: the 3xx is then the
	// final status (ReasonHTTPStatus). Unlike the other fields, 0 does not
	// mean the default, since "follow none" is a setting people ask for
	// (SITESTAT_CHECK_MAX_REDIRECTS=0); set DefaultMaxRedirects explicitly.
	MaxRedirects int
	// MaxBody is how many bytes of the body are read and matched against the
	// regex (DefaultMaxBody when 0). Stopping at the limit is not an error.
	MaxBody int64
	// UserAgent is the User-Agent header, e.g. "sitestat/1.2.0"
	// (DefaultUserAgent when empty).
	UserAgent string
	// Probe names the checking location, copied into Result.Probe
	// ("default" when empty).
	Probe string
	// Host names the machine running the checks, copied into Result.Host
	// (the host name when empty).
	Host string
	// RootCAs verifies https servers; nil means the system roots.
	RootCAs *x509.CertPool
	// DenyPrivate refuses to connect to the addresses of DenyPrefixes
	// (loopback, private, link-local, CGNAT, unspecified… by default): such
	// a check gives ReasonBlocked. It is enforced when dialling, after DNS,
	// so a name resolving to a denied address (DNS rebinding included) and
	// a redirect to one are blocked too.
	DenyPrivate bool
	// DenyPrefixes are the address ranges DenyPrivate refuses; nil means
	// DefaultDenyPrefixes. IPv4-mapped IPv6 addresses are checked as IPv4.
	DenyPrefixes []netip.Prefix
}

func (o ProbeOptions) withDefaults() ProbeOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects < 0 {
		o.MaxRedirects = 0
	}
	if o.DenyPrivate && o.DenyPrefixes == nil {
		o.DenyPrefixes = DefaultDenyPrefixes
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Probe == "" {
		o.Probe = contract.DefaultProbe
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	return o
}

// Target is a Site compiled for checking: its URL parsed and its regex
// compiled once, so that each check does neither. An invalid site still makes
// a Target; every check of it is a Result with ReasonInvalidConfig. A Target
// is immutable and safe for concurrent use.
type Target struct {
	site      contract.Site
	url       *url.URL
	shownURL  string // site.URL, password redacted: Result.URL
	finalURL  string // url.String(), password redacted: the FinalURL of a check without redirects
	re        *regexp.Regexp
	reLiteral []byte // the regex's literal prefix, "" for none
	reWhole   bool   // the regex is the literal reLiteral and nothing more
	reInsts   int    // instructions of the regex's program
	err       error
	errShort  string
}

// NewTarget compiles site. It never fails: Err reports what
// contract.Site.Validate finds wrong (an invalid URL or regex, a
// non-positive interval).
func NewTarget(site contract.Site) *Target {
	t := &Target{site: site, shownURL: redact.URL(site.URL, redact.KeepQuery)}
	if u, err := contract.ParseSiteURL(site.URL); err == nil {
		t.url = u
		t.finalURL = redactedString(u)
	}
	if site.Regex != "" {
		if re, prog, err := contract.CompileSiteRegex(site.Regex); err == nil {
			// Every match starts with the program's literal prefix (never
			// set when the pattern starts with an anchor such as ^ or \b).
			prefix, whole := prog.Prefix()
			t.re, t.reInsts, t.reLiteral, t.reWhole = re, len(prog.Inst), []byte(prefix), whole
		}
	}
	if err := site.Validate(); err != nil {
		t.err = err
		first := err
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			first = j.Unwrap()[0]
		}
		t.errShort = shorten(first.Error())
		t.url, t.re = nil, nil
	}
	return t
}

// Site returns the site the Target was made from.
func (t *Target) Site() contract.Site { return t.site }

// Err returns why the site is invalid, or nil when it can be checked.
func (t *Target) Err() error { return t.err }

// Prober checks Targets. It holds one HTTP transport shared by all checks,
// with keep-alives off so every check opens a fresh connection and the
// timings of two checks compare. A Prober is safe for concurrent use; make
// one and reuse it.
type Prober struct {
	opts      ProbeOptions
	transport *http.Transport
	client    *http.Client
	header    http.Header // read-only, shared by every request
	bufs      sync.Pool   // *[]byte bodies kept for the regex
	dialer    net.Dialer
}

// NewProber returns a Prober with opts (zero fields take their defaults).
func NewProber(opts ProbeOptions) *Prober {
	opts = opts.withDefaults()
	p := &Prober{
		opts:   opts,
		header: http.Header{"User-Agent": {opts.UserAgent}},
		// Bound background work the transport detaches from an abandoned
		// request (see dialContext); the check's own deadline normally wins.
		dialer: net.Dialer{Timeout: opts.Timeout, KeepAlive: -1},
	}
	if opts.DenyPrivate {
		p.dialer.Control = denyControl(opts.DenyPrefixes)
	}
	p.transport = &http.Transport{
		Proxy:                  nil, // checks always go direct, whatever the environment says
		DialContext:            p.dialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs},
		TLSHandshakeTimeout:    opts.Timeout,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	p.client = &http.Client{Transport: p.transport, CheckRedirect: p.checkRedirect}
	return p
}

// Options returns the options p uses, defaults filled in.
func (p *Prober) Options() ProbeOptions { return p.opts }

// Close releases the Prober's idle resources. Checks in flight are not
// interrupted.
func (p *Prober) Close() { p.transport.CloseIdleConnections() }

// Probe checks site once with a Prober made for the call. It is for one-off
// checks; repeated checks should share a Prober and a Target per site.
func Probe(ctx context.Context, site contract.Site, opts ProbeOptions) contract.Result {
	p := NewProber(opts)
	defer p.Close()
	return p.Probe(ctx, NewTarget(site))
}

// stateKey is the context key of a check's *probeState.
type stateKey struct{}

// dialContext dials with the check's own context. The transport dials with a
// context detached from the request's cancellation (so that a late
// connection can serve another request); with keep-alives off nothing can
// reuse it, so the dial is given the check's deadline back.
func (p *Prober) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if st, ok := ctx.Value(stateKey{}).(*probeState); ok {
		ctx = st.ctx
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && isInvalidTLD(host) {
		// RFC 6761 §6.4: names under .invalid never resolve, and resolvers
		// should say so without asking the network.
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}
	return p.dialer.DialContext(ctx, network, addr)
}

// isInvalidTLD reports whether host is under the special-use .invalid domain.
func isInvalidTLD(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "invalid" || strings.HasSuffix(host, ".invalid")
}

var (
	errTooManyRedirects = errors.New("too many redirects")
	errRedirectLoop     = errors.New("redirect loop")
	errBadRedirect      = errors.New("bad redirect")
)

func (p *Prober) checkRedirect(req *http.Request, via []*http.Request) error {
	if p.opts.MaxRedirects == 0 {
		return http.ErrUseLastResponse // follow none: the 3xx is the final status
	}
	if len(via) > p.opts.MaxRedirects {
		return fmt.Errorf("%w: more than %d", errTooManyRedirects, p.opts.MaxRedirects)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", errBadRedirect, s)
	}
	next := req.URL.String()
	for _, v := range via {
		if v.URL.String() == next {
			return fmt.Errorf("%w: back to %s", errRedirectLoop, redactedString(req.URL))
		}
	}
	if st, ok := req.Context().Value(stateKey{}).(*probeState); ok {
		st.mu.Lock()
		st.redirects++
		st.lastURL = req.URL
		st.mu.Unlock()
	}
	return nil
}

// Probe checks t once and returns the Result. It never fails: whatever
// happens to the site is in the Result. ctx bounds the check besides the
// timeout; a cancelled ctx gives ReasonProbeError.
//
//nolint:funlen // the phases of one check in order (resolve, connect, TLS, request, body, regex), each naming the earliest failing phase; split, the deadline and timings would thread through every piece.
func (p *Prober) Probe(ctx context.Context, t *Target) contract.Result {
	start := time.Now()
	r := contract.Result{
		V:         contract.Version,
		CheckID:   newUUID(),
		WebsiteID: t.site.ID,
		URL:       t.shownURL,
		CheckedAt: start.UTC(),
		StartedAt: new(start.UTC()),
		Probe:     p.opts.Probe,
		Host:      p.opts.Host,
	}
	if t.err != nil {
		r.Reason, r.Error = contract.ReasonInvalidConfig, t.errShort
		return r
	}

	timeout := p.opts.Timeout
	if iv := t.site.Interval; iv > 0 && iv < timeout {
		timeout = iv
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st := &probeState{phase: "connect"}
	ctx = context.WithValue(ctx, stateKey{}, st)
	ctx = httptrace.WithClientTrace(ctx, st.trace())
	st.ctx = ctx

	u := *t.url
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     p.header,
	}).WithContext(ctx)

	resp, err := p.client.Do(req)
	if resp != nil {
		code := resp.StatusCode
		r.StatusCode = &code
		if resp.Request != nil && resp.Request.URL != &u {
			r.FinalURL = redactedString(resp.Request.URL)
		} else {
			r.FinalURL = t.finalURL
		}
		if cs := resp.TLS; cs != nil {
			r.TLSVersion = tls.VersionName(cs.Version)
			if len(cs.PeerCertificates) > 0 {
				na := cs.PeerCertificates[0].NotAfter.UTC()
				r.CertNotAfter = &na
			}
		}
	}
	if err != nil {
		if resp != nil {
			resp.Body.Close() // already closed by the client; harmless
		}
		end := time.Now()
		st.finish(end, &r)
		r.ResponseTimeMs = ms(end.Sub(start))
		r.Reason, r.Error = p.classify(ctx, err, st, timeout)
		if r.FinalURL == "" {
			r.FinalURL = t.finalURL
			st.mu.Lock()
			if st.lastURL != nil {
				r.FinalURL = redactedString(st.lastURL)
			}
			st.mu.Unlock()
		}
		if r.CertNotAfter == nil {
			var cve *tls.CertificateVerificationError
			if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
				na := cve.UnverifiedCertificates[0].NotAfter.UTC()
				r.CertNotAfter = &na
			}
		}
		return r
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The earliest phase wins: the body and the regex do not matter.
		// Closing without draining is fine, the connection is not reused.
		resp.Body.Close()
		end := time.Now()
		st.finish(end, &r)
		r.ResponseTimeMs = ms(end.Sub(start))
		r.Reason, r.Error = contract.ReasonHTTPStatus, shorten(statusText(resp))
		return r
	}

	var bp *[]byte
	var n int64
	if t.re != nil {
		bp = p.getBuf()
		n, err = readBody(resp.Body, p.opts.MaxBody, bp)
	} else {
		n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, p.opts.MaxBody))
	}
	resp.Body.Close()
	end := time.Now()
	st.finish(end, &r)
	r.ResponseTimeMs = ms(end.Sub(start))
	r.BodyBytes = n
	switch {
	case err != nil && isTimeout(ctx, err):
		r.Reason, r.Error = p.classify(ctx, err, st, timeout)
	case err != nil && ctx.Err() != nil:
		r.Reason, r.Error = contract.ReasonProbeError, "check cancelled"
	case err != nil:
		r.Reason, r.Error = contract.ReasonBodyReadError, shorten("read body: "+err.Error())
	case t.re != nil:
		matched, done := t.match(ctx, (*bp)[:n])
		if !done {
			r.Reason, r.Error = contract.ReasonTimeout, fmt.Sprintf("timeout after %s during regex match", timeout)
			break
		}
		r.RegexMatched = &matched
		if matched {
			r.Reason, r.Up = contract.ReasonOK, true
		} else {
			r.Reason = contract.ReasonRegexMismatch
			r.Error = shorten(fmt.Sprintf("up_regex %q not found in the first %d bytes of the body", t.site.Regex, n))
		}
	default:
		r.Reason, r.Up = contract.ReasonOK, true
	}
	if bp != nil {
		p.putBuf(bp)
	}
	return r
}

// match reports whether t's regex matches body, and done = false when ctx
// ended first (the deadline of the check). A regex that is a plain string is
// found with bytes.Contains; one that starts with a literal is looked for
// from the literal's first occurrence, and not at all when there is none.
// Otherwise the regex reads the body through a reader that gives up when
// ctx ends, so a costly match never outlives the check.
func (t *Target) match(ctx context.Context, body []byte) (matched, done bool) {
	if len(t.reLiteral) > 0 {
		i := bytes.Index(body, t.reLiteral)
		if i < 0 || t.reWhole {
			return i >= 0, true
		}
		body = body[i:] // every match starts with the literal
	} else if t.reWhole {
		return true, true // the empty regex
	}
	if ctx.Err() != nil {
		return false, false
	}
	rd := &deadlineReader{b: body, done: ctx.Done(), every: max(1, matchCheckBudget/max(t.reInsts, 1))}
	matched = t.re.MatchReader(rd)
	return matched, !rd.expired
}

// matchCheckBudget sets how often deadlineReader looks at the deadline: every
// matchCheckBudget/instructions characters, so that the work between two
// looks is about the same (a few tens of µs) whatever the regex.
const matchCheckBudget = 4096

// deadlineReader is an io.RuneReader over b that reports io.EOF, and sets
// expired, once done is closed; it looks every "every" characters.
type deadlineReader struct {
	b       []byte
	i       int
	done    <-chan struct{}
	every   int
	left    int
	expired bool
}

func (d *deadlineReader) ReadRune() (rune, int, error) {
	if d.i >= len(d.b) || d.expired {
		return 0, 0, io.EOF
	}
	if d.left--; d.left <= 0 {
		d.left = d.every
		select {
		case <-d.done:
			d.expired = true
			return 0, 0, io.EOF
		default:
		}
	}
	if c := d.b[d.i]; c < utf8.RuneSelf {
		d.i++
		return rune(c), 1, nil
	}
	r, n := utf8.DecodeRune(d.b[d.i:])
	d.i += n
	return r, n, nil
}

// initialBuf is the starting size of a pooled body buffer; it grows up to
// MaxBody only for sites whose pages are that big.
const initialBuf = 32 << 10

func (p *Prober) getBuf() *[]byte {
	if bp, ok := p.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, min(initialBuf, p.opts.MaxBody))
	return &b
}

func (p *Prober) putBuf(bp *[]byte) {
	*bp = (*bp)[:0]
	p.bufs.Put(bp)
}

// readBody reads at most limit bytes of body into *bp, growing it as needed
// (never past limit), and returns how many bytes it read. Reaching the limit
// is not an error; io.EOF is not an error.
func readBody(body io.Reader, limit int64, bp *[]byte) (int64, error) {
	b := (*bp)[:0]
	defer func() { *bp = b }()
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(max(2*cap(b), initialBuf), int(limit)))
			copy(nb, b)
			b = nb
		}
		room := b[len(b):cap(b)]
		if rest := limit - int64(len(b)); int64(len(room)) > rest {
			room = room[:rest]
		}
		n, err := body.Read(room)
		b = b[:len(b)+n]
		if err == io.EOF {
			return int64(len(b)), nil
		}
		if err != nil {
			return int64(len(b)), err
		}
	}
	return int64(len(b)), nil
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

// classify maps the error of a check to its Reason and a short text.
func (p *Prober) classify(ctx context.Context, err error, st *probeState, timeout time.Duration) (contract.Reason, string) {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	st.mu.Lock()
	phase, tlsErr := st.phase, st.tlsErr
	st.mu.Unlock()

	var dnsErr *net.DNSError
	var rhe tls.RecordHeaderError
	var cve *tls.CertificateVerificationError
	var alert tls.AlertError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	switch {
	case errors.Is(err, errBlocked):
		var be *net.OpError
		if errors.As(err, &be) && be.Err != nil {
			inner = be.Err
		}
		return contract.ReasonBlocked, shorten(inner.Error())
	case errors.Is(err, errTooManyRedirects), errors.Is(err, errRedirectLoop), errors.Is(err, errBadRedirect):
		return contract.ReasonRedirectError, shorten(inner.Error())
	case isTimeout(ctx, err):
		return contract.ReasonTimeout, fmt.Sprintf("timeout after %s during %s", timeout, phase)
	case errors.Is(err, context.Canceled):
		return contract.ReasonProbeError, "check cancelled"
	case errors.As(err, &dnsErr):
		return contract.ReasonDNSError, shorten(dnsErr.Error())
	case errors.Is(err, syscall.ECONNREFUSED):
		return contract.ReasonConnectionRefused, shorten(inner.Error())
	case tlsErr != nil, errors.As(err, &rhe), errors.As(err, &cve), errors.As(err, &alert),
		errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return contract.ReasonTLSError, shorten(inner.Error())
	default:
		return contract.ReasonConnectionError, shorten(inner.Error())
	}
}

// probeState follows one check through net/http/httptrace. Hooks can run on
// transport goroutines, even after the check returned (a detached dial), so
// every field is behind mu and hooks do nothing once the check finished.
type probeState struct {
	ctx context.Context // the check's context, deadline and trace included

	mu        sync.Mutex
	done      bool
	phase     string // where the check is: dns, connect, tls, ttfb, transfer
	redirects int
	lastURL   *url.URL
	tlsErr    error

	dnsStart, connStart, tlsStart, ttfbStart, firstByte time.Time
	connPending                                         int
	phases                                              contract.Phases
}

func (st *probeState) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			// A new request of a redirect chain: the previous response ends here.
			if !st.firstByte.IsZero() {
				st.phases.TransferMs += ms(time.Since(st.firstByte))
				st.firstByte = time.Time{}
			}
			st.phase = "connect"
		},
		DNSStart: func(httptrace.DNSStartInfo) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			st.dnsStart, st.phase = time.Now(), "dns"
		},
		DNSDone: func(httptrace.DNSDoneInfo) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done || st.dnsStart.IsZero() {
				return
			}
			st.phases.DNSMs += ms(time.Since(st.dnsStart))
			st.dnsStart = time.Time{}
		},
		ConnectStart: func(string, string) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			if st.connStart.IsZero() {
				st.connStart = time.Now()
			}
			st.connPending++
			st.phase = "connect"
		},
		ConnectDone: func(_, _ string, err error) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done || st.connStart.IsZero() {
				return
			}
			// With several addresses tried in parallel, the phase ends at
			// the first success or when every attempt failed.
			st.connPending--
			if err == nil || st.connPending <= 0 {
				st.phases.ConnectMs += ms(time.Since(st.connStart))
				st.connStart, st.connPending = time.Time{}, 0
			}
		},
		TLSHandshakeStart: func() {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			st.tlsStart, st.phase = time.Now(), "tls"
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done || st.tlsStart.IsZero() {
				return
			}
			st.phases.TLSMs += ms(time.Since(st.tlsStart))
			st.tlsStart = time.Time{}
			if err != nil {
				st.tlsErr = err
			}
		},
		GotConn: func(httptrace.GotConnInfo) {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			// ttfb counts from the connection in hand: the request write
			// (tiny) is in it too, so that the phases add up.
			st.phase = "ttfb"
			st.ttfbStart = time.Now()
		},
		GotFirstResponseByte: func() {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.done {
				return
			}
			now := time.Now()
			if !st.ttfbStart.IsZero() {
				st.phases.TTFBMs += ms(now.Sub(st.ttfbStart))
				st.ttfbStart = time.Time{}
			}
			st.firstByte, st.phase = now, "transfer"
		},
	}
}

// finish closes the phases still open at end (the one a timeout cut short,
// or the transfer), copies the phases and redirects into r, and makes later
// hooks no-ops.
func (st *probeState) finish(end time.Time, r *contract.Result) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.done = true
	if !st.dnsStart.IsZero() {
		st.phases.DNSMs += ms(end.Sub(st.dnsStart))
	}
	if !st.connStart.IsZero() {
		st.phases.ConnectMs += ms(end.Sub(st.connStart))
	}
	if !st.tlsStart.IsZero() {
		st.phases.TLSMs += ms(end.Sub(st.tlsStart))
	}
	if !st.ttfbStart.IsZero() {
		st.phases.TTFBMs += ms(end.Sub(st.ttfbStart))
	}
	if !st.firstByte.IsZero() {
		st.phases.TransferMs += ms(end.Sub(st.firstByte))
	}
	r.PhasesMs = st.phases
	r.Redirects = st.redirects
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// shorten bounds an error text to MaxErrorLen characters.
func shorten(s string) string { return text.Truncate(s, contract.MaxErrorLen) }

// statusText is the error text of a non-2xx answer: "HTTP", the code and the
// reason phrase cut to MaxReasonPhraseLen characters.
func statusText(resp *http.Response) string {
	code := strconv.Itoa(resp.StatusCode)
	phrase := strings.TrimSpace(strings.TrimPrefix(resp.Status, code))
	if phrase == "" {
		return "HTTP " + code
	}
	return "HTTP " + code + " " + text.Truncate(phrase, MaxReasonPhraseLen)
}

// newUUID returns a random (version 4) UUID in canonical text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// formatUUID returns b in canonical UUID text form.
func formatUUID(b [16]byte) string {
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[c>>4], hexd[c&0x0f]
		j += 2
	}
	return string(s[:])
}

// redactedString is u.String() through redact.URL.
func redactedString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return redact.URL(u.String(), redact.KeepQuery)
}
