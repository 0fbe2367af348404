package netprobe

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/netserve"
)

// TestProbeDNS: a row per record type and per outcome of a dns check,
// against an authoritative server on the loopback.
func TestProbeDNS(t *testing.T) {
	srv := netserve.DNS(t)
	closed := netserve.ClosedUDPPort(t)
	q := func(name, typ string) string { return "dns://" + srv + "/" + name + "?type=" + typ }
	tests := []struct {
		name      string
		spec      Spec
		opts      Options
		reason    Reason
		errPart   string
		rcode     string
		answers   []string
		overTCP   bool
		connected bool
	}{
		{"A", Spec{URL: q("www.example.test", "A")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.WwwA}, false, true},
		{"A default type", Spec{URL: "dns://" + srv + "/www.example.test."}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.WwwA}, false, true},
		{"AAAA", Spec{URL: q("www.example.test", "AAAA")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.WwwAAAA}, false, true},
		{"CNAME", Spec{URL: q("alias.example.test", "CNAME")}, Options{}, ReasonOK, "", "NOERROR", []string{"www.example.test."}, false, true},
		{"MX", Spec{URL: q("example.test", "MX")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.MXHost}, false, true},
		{"TXT", Spec{URL: q("example.test", "TXT")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.SPF}, false, true},
		{"NS", Spec{URL: q("example.test", "ns")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.NSHost}, false, true},
		{"truncated, again over TCP", Spec{URL: q(netserve.BigName, "TXT")}, Options{}, ReasonOK, "", "NOERROR", []string{netserve.BigTXT}, true, true},
		{"NXDOMAIN", Spec{URL: q("nope.example.test", "A")}, Options{}, ReasonDNSRcode, "NXDOMAIN", "NXDOMAIN", nil, false, true},
		{"SERVFAIL", Spec{URL: q(netserve.ServfailName, "A")}, Options{}, ReasonDNSRcode, "SERVFAIL", "SERVFAIL", nil, false, true},
		{"no answer of the type", Spec{URL: q(netserve.TXTOnly, "A")}, Options{}, ReasonDNSNoAnswer, "no A record", "NOERROR", nil, false, true},
		{"CNAME is not an A", Spec{URL: q("alias.example.test", "A")}, Options{}, ReasonDNSNoAnswer, "no A record", "NOERROR", nil, false, true},
		{"no answer in time", Spec{URL: q(netserve.SlowName, "A"), Timeout: 200 * time.Millisecond}, Options{}, ReasonTimeout, "timeout after 200ms during query over udp", "", nil, false, false},
		{"nothing listens", Spec{URL: "dns://" + closed + "/www.example.test"}, Options{}, ReasonConnectionRefused, "refused", "", nil, false, false},
		{"resolver does not resolve", Spec{URL: "dns://nowhere.invalid/www.example.test"}, Options{}, ReasonDNSError, "nowhere.invalid", "", nil, false, false},
		{"blocked", Spec{URL: q("www.example.test", "A")}, Options{Deny: denyLoopback}, ReasonBlocked, "loopback not allowed", "", nil, false, false},
		{"invalid", Spec{URL: q("www.example.test", "SRV")}, Options{}, ReasonInvalidConfig, "unknown type", "", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProber(tt.opts)
			defer p.Close()
			out := p.Probe(context.Background(), NewTarget(tt.spec))
			if out.Reason != tt.reason || !strings.Contains(out.Error, tt.errPart) {
				t.Fatalf("Probe = %s %q, want %s with %q", out.Reason, out.Error, tt.reason, tt.errPart)
			}
			if out.Kind != KindDNS || out.Rcode != tt.rcode || !slices.Equal(out.Answers, tt.answers) || out.OverTCP != tt.overTCP || out.Connected != tt.connected {
				t.Errorf("Kind %q Rcode %q Answers %q OverTCP %v Connected %v, want dns %q %q %v %v",
					out.Kind, out.Rcode, out.Answers, out.OverTCP, out.Connected, tt.rcode, tt.answers, tt.overTCP, tt.connected)
			}
			if tt.connected && (out.IP != netip.MustParseAddr("127.0.0.1") || out.Duration <= 0) {
				t.Errorf("IP %v Duration %v", out.IP, out.Duration)
			}
		})
	}
}
