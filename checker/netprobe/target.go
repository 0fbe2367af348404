package netprobe

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Spec is a site of one of this package's kinds, as configured.
type Spec struct {
	// URL is the target, ${env:…} references already resolved.
	URL string
	// Send is written once connected (tcp only).
	Send []byte
	// Expect must be in the reply, read up to Options.MaxReply bytes with
	// the check's deadline (tcp only).
	Expect []byte
	// ReadReply reads a reply even without Expect, ending at the first
	// bytes read, EOF, the limit or the deadline (tcp only): for a
	// condition on [BODY].
	ReadReply bool
	// Timeout bounds the check; 0 means Options.Timeout.
	Timeout time.Duration
}

// MaxNameBytes is the longest DNS name, in bytes, without the final dot
// (RFC 1035 §2.3.4: 255 octets on the wire).
const MaxNameBytes = 253

// dnsTypes are the query types a dns target may ask, by name.
var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME,
	"MX": dns.TypeMX, "TXT": dns.TypeTXT, "NS": dns.TypeNS,
}

// Target is a Spec compiled for probing. An invalid Spec still makes a
// Target: every probe of it gives ReasonInvalidConfig. A Target is immutable
// and safe for concurrent use.
type Target struct {
	spec  Spec
	kind  Kind
	host  string // host name or IP literal, without brackets
	addr  string // host:port: tcp and tls targets, the dns resolver
	name  string // dns: the fully qualified name asked
	qtype uint16 // dns
	sni   string // tls: the name sent and verified
	err   error
}

// NewTarget compiles spec. It never fails; Err reports an invalid spec.
func NewTarget(spec Spec) *Target {
	t := &Target{spec: spec}
	if err := t.parse(); err != nil {
		t.err = fmt.Errorf("invalid url: %w", err)
	} else if spec.Timeout < 0 {
		t.err = fmt.Errorf("invalid timeout %s: must not be negative", spec.Timeout)
	}
	return t
}

// Validate reports why spec cannot be checked, in one line, or nil. It is
// the check NewTarget makes, for refusing a site when it is added.
func Validate(spec Spec) error { return NewTarget(spec).Err() }

// Err returns why the target is invalid, or nil.
func (t *Target) Err() error { return t.err }

// Kind returns the target's kind ("" when the scheme is unknown).
func (t *Target) Kind() Kind { return t.kind }

// Spec returns the spec the target was made from.
func (t *Target) Spec() Spec { return t.spec }

// parse fills t from t.spec.URL. Its errors never quote the URL, which may
// hold a resolved secret; they name the part at fault.
func (t *Target) parse() error {
	scheme, _, ok := strings.Cut(t.spec.URL, "://")
	kind, known := KindOf(scheme)
	if !ok || !known {
		if !ok || strings.ContainsAny(scheme, "/?#@") {
			scheme = ""
		}
		return fmt.Errorf("unknown scheme %q (want http, https, tcp, dns, tls or icmp)", scheme)
	}
	t.kind = kind
	u, err := url.Parse(t.spec.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	if u.User != nil {
		return fmt.Errorf("%s checks use no user information", kind)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return errors.New("unexpected fragment or opaque part")
	}
	if kind != KindTCP && (len(t.spec.Send) > 0 || len(t.spec.Expect) > 0 || t.spec.ReadReply) {
		return fmt.Errorf("send and expect are for tcp checks, not %s", kind)
	}
	t.host = u.Hostname()
	switch kind {
	case KindTCP:
		return t.parseTCP(u)
	case KindDNS:
		return t.parseDNS(u)
	case KindTLS:
		return t.parseTLS(u)
	default:
		return t.parseICMP(u)
	}
}

func (t *Target) parseTCP(u *url.URL) error {
	if err := noPath(u); err != nil {
		return err
	}
	if err := onlyParams(u.Query()); err != nil {
		return err
	}
	if u.Port() == "" {
		return errors.New("a tcp check needs a port (tcp://host:port)")
	}
	return t.setAddr(u.Port(), "")
}

func (t *Target) parseTLS(u *url.URL) error {
	if err := noPath(u); err != nil {
		return err
	}
	q := u.Query()
	if err := onlyParams(q, "sni"); err != nil {
		return err
	}
	t.sni = t.host
	if s := q.Get("sni"); s != "" {
		if err := checkName(s); err != nil {
			return fmt.Errorf("invalid sni: %w", err)
		}
		t.sni = s
	}
	return t.setAddr(u.Port(), "443")
}

func (t *Target) parseDNS(u *url.URL) error {
	q := u.Query()
	if err := onlyParams(q, "type"); err != nil {
		return err
	}
	typ := strings.ToUpper(q.Get("type"))
	if typ == "" {
		typ = "A"
	}
	qt, ok := dnsTypes[typ]
	if !ok {
		return fmt.Errorf("unknown type %q (want A, AAAA, CNAME, MX, TXT or NS)", q.Get("type"))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "." {
		return errors.New("no name to ask (dns://resolver/name)")
	}
	if err := checkName(name); err != nil {
		return err
	}
	t.name, t.qtype = dns.Fqdn(name), qt
	return t.setAddr(u.Port(), "53")
}

func (t *Target) parseICMP(u *url.URL) error {
	if err := noPath(u); err != nil {
		return err
	}
	if err := onlyParams(u.Query()); err != nil {
		return err
	}
	if u.Port() != "" {
		return errors.New("an icmp check has no port (icmp://host)")
	}
	return nil
}

// setAddr sets t.addr from t.host and port, def when port is empty.
func (t *Target) setAddr(port, def string) error {
	if port == "" {
		port = def
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q out of range (1-65535)", port)
	}
	t.addr = net.JoinHostPort(t.host, port)
	return nil
}

// noPath refuses a path other than "/".
func noPath(u *url.URL) error {
	if u.Path != "" && u.Path != "/" {
		return errors.New("unexpected path (the kind takes none)")
	}
	return nil
}

// onlyParams refuses query parameters other than allowed, and repeated ones.
func onlyParams(q url.Values, allowed ...string) error {
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return fmt.Errorf("unknown parameter %q", k)
		}
		if len(v) > 1 {
			return fmt.Errorf("parameter %q given %d times", k, len(v))
		}
	}
	return nil
}

// checkName checks a DNS name: at most MaxNameBytes bytes without the final
// dot, labels of 1 to 63 bytes, printable ASCII without spaces.
func checkName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if len(n) > MaxNameBytes {
		return fmt.Errorf("name is %d bytes, more than %d", len(n), MaxNameBytes)
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("invalid character %q in the name at byte %d", c, i+1)
		}
	}
	for _, l := range strings.Split(n, ".") {
		switch {
		case l == "":
			return errors.New("empty label in the name")
		case len(l) > 63:
			return fmt.Errorf("label of %d bytes in the name, more than 63", len(l))
		}
	}
	return nil
}
