package netprobe

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sitestat/sitestat/testutil/netserve"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// The benchmarks put each probe beside a bare Go loop doing the same
// operation against the same local server, as issue 20's `scripts/bench
// kinds` compares them: go test -run '^$' -bench . ./checker/netprobe/

func benchProbe(b *testing.B, opts Options, spec Spec) {
	p := NewProber(opts)
	defer p.Close()
	t := NewTarget(spec)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := p.Probe(ctx, t); out.Reason != ReasonOK {
			b.Fatalf("probe: %s %s", out.Reason, out.Error)
		}
	}
}

func BenchmarkTCP(b *testing.B) {
	benchProbe(b, Options{}, Spec{URL: "tcp://" + netserve.TCPSilent(b)})
}

func BenchmarkTCPBare(b *testing.B) {
	addr := netserve.TCPSilent(b)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkDNS(b *testing.B) {
	benchProbe(b, Options{}, Spec{URL: "dns://" + netserve.DNS(b) + "/www.example.test?type=A"})
}

func BenchmarkDNSBare(b *testing.B) {
	addr := netserve.DNS(b)
	c := &dns.Client{Timeout: 10 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		m := new(dns.Msg)
		m.SetQuestion("www.example.test.", dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("exchange: %v %v", err, r)
		}
	}
}

func BenchmarkTLS(b *testing.B) {
	srv := netserve.TLS(b, netserve.TLSOptions{})
	benchProbe(b, Options{RootCAs: srv.Roots}, Spec{URL: "tls://" + srv.Addr + "?sni=localhost"})
}

func BenchmarkTLSBare(b *testing.B) {
	srv := netserve.TLS(b, netserve.TLSOptions{})
	cfg := &tls.Config{RootCAs: srv.Roots, ServerName: "localhost"}
	d := &net.Dialer{Timeout: 10 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		c, err := tls.DialWithDialer(d, "tcp", srv.Addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkICMP(b *testing.B) {
	if _, _, err := DefaultOpenICMP(false); err != nil {
		b.Skipf("no ICMP socket: %v", err)
	}
	benchProbe(b, Options{}, Spec{URL: "icmp://127.0.0.1"})
}

// BenchmarkICMPBare: one raw echo to 127.0.0.1 per operation on one raw
// socket, reading until its reply.
func BenchmarkICMPBare(b *testing.B) {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		b.Skipf("no raw ICMP socket: %v", err)
	}
	defer c.Close()
	dst := &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}
	buf := make([]byte, 1500)
	seq := 0
	b.ReportAllocs()
	for b.Loop() {
		seq++
		msg, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0xbeef, Seq: seq & 0xffff, Data: []byte(echoPayload)}}).Marshal(nil)
		if _, err := c.WriteTo(msg, dst); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				b.Fatal(err)
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == 0xbeef && e.Seq == seq&0xffff {
				break
			}
		}
	}
}
