package netserve

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The zone DNS serves, authoritatively, over UDP and TCP on one port.
const (
	Zone = "example.test."

	WwwA      = "192.0.2.10"          // www.example.test. A
	WwwAAAA   = "2001:db8::10"        // www.example.test. AAAA
	AliasName = "alias.example.test." // CNAME www.example.test.
	MXHost    = "mail.example.test."  // example.test. MX 10
	NSHost    = "ns1.example.test."   // example.test. NS
	SPF       = "v=spf1 -all"         // example.test. TXT
	// BigName's TXT answer comes over TCP only: over UDP the answer is
	// empty with the truncated (TC) bit set.
	BigName = "big.example.test."
	BigTXT  = "the answer that did not fit in UDP"
	// TXTOnly has a TXT record and nothing else: an A query gets NOERROR
	// with no answer.
	TXTOnly = "txtonly.example.test."
	// ServfailName is answered SERVFAIL; SlowName is never answered.
	ServfailName = "servfail.example.test."
	SlowName     = "slow.example.test."
)

// DNS starts the authoritative server of Zone on 127.0.0.1 (UDP and TCP on
// the same port) and returns its address. Names outside the zone's records
// get NXDOMAIN.
func DNS(tb testing.TB) string {
	tb.Helper()
	pc, ln, err := listenBoth()
	if err != nil {
		tb.Fatalf("netserve: dns: %v", err)
	}
	addr := pc.LocalAddr().String()
	z := parseZone(tb)
	udp := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { z.answer(w, r, false) })}
	tcp := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { z.answer(w, r, true) })}
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
	}
	tb.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return addr
}

// listenBoth listens on one port of 127.0.0.1 for UDP and TCP. The port is
// the TCP listener's; when its UDP twin is taken, it tries another.
func listenBoth() (net.PacketConn, net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return pc, ln, nil
		}
		ln.Close()
	}
	return nil, nil, fmt.Errorf("no port free for both udp and tcp: %w", err)
}

// ClosedUDPPort returns an address on 127.0.0.1 where no UDP socket is bound.
func ClosedUDPPort(tb testing.TB) string {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netserve: udp: %v", err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func (z zone) answer(w dns.ResponseWriter, r *dns.Msg, overTCP bool) {
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch name {
	case SlowName:
		return // never answered: the client times out
	case ServfailName:
		m.Rcode = dns.RcodeServerFailure
	case BigName:
		if !overTCP {
			m.Truncated = true
			break
		}
		m.Answer = z.records(q, name)
	default:
		m.Answer = z.records(q, name)
		if _, ok := z[name]; !ok {
			m.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(m)
}

// zone holds the records by owner name.
type zone map[string][]dns.RR

// parseZone returns the records of Zone.
func parseZone(tb testing.TB) zone {
	src := map[string][]string{
		"www.example.test.": {"A " + WwwA, "AAAA " + WwwAAAA},
		AliasName:           {"CNAME www.example.test."},
		Zone:                {"MX 10 " + MXHost, "NS " + NSHost, `TXT "` + SPF + `"`},
		BigName:             {`TXT "` + BigTXT + `"`},
		TXTOnly:             {`TXT "only text here"`},
		MXHost:              {"A 192.0.2.25"},
		NSHost:              {"A 192.0.2.53"},
	}
	z := zone{}
	for name, recs := range src {
		for _, s := range recs {
			rr, err := dns.NewRR(name + " 300 IN " + s)
			if err != nil {
				tb.Fatalf("netserve: bad zone record %s: %v", s, err)
			}
			z[name] = append(z[name], rr)
		}
	}
	return z
}

// records returns the records of name of q's type (and a CNAME, which
// answers every type).
func (z zone) records(q dns.Question, name string) []dns.RR {
	var rrs []dns.RR
	for _, rr := range z[name] {
		if t := rr.Header().Rrtype; t == q.Qtype || t == dns.TypeCNAME {
			rrs = append(rrs, rr)
		}
	}
	return rrs
}
