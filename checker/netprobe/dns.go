package netprobe

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/sitestat/sitestat/internal/text"
)

// ednsSize is the UDP payload size offered (EDNS0), the DNS Flag Day 2020
// value that avoids fragmentation; a longer answer comes truncated and is
// asked again over TCP.
const ednsSize = 1232

// probeDNS asks t's resolver for t's name and type over UDP, and again over
// TCP when the answer is truncated.
func (p *Prober) probeDNS(ck *check, t *Target) error {
	ip, err := p.resolve(ck, t.host)
	if err != nil {
		return err
	}
	ck.out.IP = ip
	_, port, _ := net.SplitHostPort(t.addr)
	addr := net.JoinHostPort(ip.String(), port)

	m := new(dns.Msg)
	m.SetQuestion(t.name, t.qtype)
	m.SetEdns0(ednsSize, false)
	c := &dns.Client{Net: "udp", Dialer: &p.dialer, Timeout: ck.timeout, UDPSize: ednsSize}
	ck.phase = "query over udp"
	resp, _, err := c.ExchangeContext(ck.ctx, m, addr)
	if err == nil && resp.Truncated {
		ck.out.OverTCP = true
		ck.phase = "query over tcp"
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ck.ctx, m, addr)
	}
	if err != nil {
		return err
	}
	ck.out.Connected = true
	ck.out.Rcode = rcodeName(resp.Rcode)
	ck.out.Answers = answers(resp.Answer, t.qtype)
	switch {
	case resp.Rcode != dns.RcodeSuccess:
		return fail(ReasonDNSRcode, "%s for %s %s", ck.out.Rcode, dns.TypeToString[t.qtype], t.name)
	case len(ck.out.Answers) == 0:
		return fail(ReasonDNSNoAnswer, "NOERROR but no %s record for %s", dns.TypeToString[t.qtype], t.name)
	}
	return nil
}

// resolve returns the address of host: host itself when it is an IP, else
// the system resolver's first answer (IPv4 first). Options.Deny is asked.
func (p *Prober) resolve(ck *check, host string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ck.phase = "resolve"
		if isInvalidTLD(host) {
			return netip.Addr{}, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		ips, err := net.DefaultResolver.LookupNetIP(ck.ctx, "ip", host)
		if err != nil {
			return netip.Addr{}, err
		}
		ip = ips[0]
		for _, a := range ips {
			if a.Unmap().Is4() {
				ip = a
				break
			}
		}
	}
	ip = ip.Unmap()
	if err := p.deny(ip); err != nil {
		return netip.Addr{}, err
	}
	return ip, nil
}

// rcodeName names a response code ("NOERROR", "NXDOMAIN"…).
func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// answers returns the answers of type qtype as text (see Outcome.Answers),
// at most MaxAnswers of at most MaxAnswerLen characters.
func answers(rrs []dns.RR, qtype uint16) []string {
	var out []string
	for _, rr := range rrs {
		if len(out) == MaxAnswers {
			break
		}
		if rr.Header().Rrtype != qtype {
			continue
		}
		var s string
		switch r := rr.(type) {
		case *dns.A:
			s = r.A.String()
		case *dns.AAAA:
			s = r.AAAA.String()
		case *dns.CNAME:
			s = r.Target
		case *dns.MX:
			s = r.Mx
		case *dns.NS:
			s = r.Ns
		case *dns.TXT:
			s = strings.Join(r.Txt, "")
		default:
			continue
		}
		out = append(out, text.Truncate(s, MaxAnswerLen))
	}
	return out
}
