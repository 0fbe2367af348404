package netprobe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/netserve"
)

// TestProbeTLS: a row per outcome of a tls check, against TLS listeners on
// the loopback with chains made by the test.
func TestProbeTLS(t *testing.T) {
	good := netserve.TLS(t, netserve.TLSOptions{})
	expired := netserve.TLS(t, netserve.TLSOptions{Expired: true})
	plain := netserve.TCPBanner(t, "220 not tls at all\r\n")
	silent := netserve.TCPSilent(t)
	closed := netserve.ClosedPort(t)
	trusting := Options{RootCAs: good.Roots}
	tests := []struct {
		name     string
		spec     Spec
		opts     Options
		reason   Reason
		errPart  string
		chain    int // certificates seen
		verified bool
	}{
		{"verified by IP", Spec{URL: "tls://" + good.Addr}, trusting, ReasonOK, "", 2, true},
		{"verified by sni", Spec{URL: "tls://" + good.Addr + "?sni=localhost"}, trusting, ReasonOK, "", 2, true},
		{"wrong name", Spec{URL: "tls://" + good.Addr + "?sni=other.example"}, trusting, ReasonTLSError, "other.example", 2, false},
		{"unknown authority", Spec{URL: "tls://" + good.Addr}, Options{}, ReasonTLSError, "unknown authority", 2, false},
		{"expired", Spec{URL: "tls://" + expired.Addr}, Options{RootCAs: expired.Roots}, ReasonTLSError, "expired", 2, false},
		{"not tls", Spec{URL: "tls://" + plain}, trusting, ReasonTLSError, "handshake", 0, false},
		{"no handshake in time", Spec{URL: "tls://" + silent, Timeout: 200 * time.Millisecond}, trusting, ReasonTimeout, "timeout after 200ms during handshake", 0, false},
		{"refused", Spec{URL: "tls://" + closed}, trusting, ReasonConnectionRefused, "refused", 0, false},
		{"no such host", Spec{URL: "tls://nowhere.invalid"}, trusting, ReasonDNSError, "nowhere.invalid", 0, false},
		{"blocked", Spec{URL: "tls://" + good.Addr}, Options{RootCAs: good.Roots, Deny: denyLoopback}, ReasonBlocked, "loopback", 0, false},
		{"invalid", Spec{URL: "tls://" + good.Addr + "?server=x"}, trusting, ReasonInvalidConfig, "unknown parameter", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProber(tt.opts)
			defer p.Close()
			out := p.Probe(context.Background(), NewTarget(tt.spec))
			if out.Reason != tt.reason || !strings.Contains(out.Error, tt.errPart) {
				t.Fatalf("Probe = %s %q, want %s with %q", out.Reason, out.Error, tt.reason, tt.errPart)
			}
			if out.Kind != KindTLS || len(out.Chain) != tt.chain || out.Verified != tt.verified {
				t.Errorf("Kind %q chain %d verified %v, want tls %d %v", out.Kind, len(out.Chain), out.Verified, tt.chain, tt.verified)
			}
			if tt.chain == 0 {
				return
			}
			srv := good
			if strings.HasPrefix(tt.name, "expired") {
				srv = expired
			}
			if !out.CertNotAfter.Equal(srv.Leaf.NotAfter) || out.TLSVersion != "TLS 1.3" || !out.Connected ||
				out.Chain[1].Subject != srv.Intermediate.Subject.String() || out.Chain[0].Issuer != srv.Intermediate.Subject.String() {
				t.Errorf("CertNotAfter %v (leaf %v) version %q connected %v chain %+v", out.CertNotAfter, srv.Leaf.NotAfter, out.TLSVersion, out.Connected, out.Chain)
			}
		})
	}
}
