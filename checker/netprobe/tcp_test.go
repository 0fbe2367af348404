package netprobe

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/netserve"
)

// TestProbeTCP: a row per outcome of a tcp check, against real servers on
// the loopback.
func TestProbeTCP(t *testing.T) {
	banner := netserve.TCPBanner(t, "SSH-2.0-netserve\r\n")
	echo := netserve.TCPEcho(t)
	silent := netserve.TCPSilent(t)
	closed := netserve.ClosedPort(t)
	tests := []struct {
		name      string
		spec      Spec
		opts      Options
		reason    Reason
		errPart   string
		reply     string // wanted Reply
		connected bool
	}{
		{"connect", Spec{URL: "tcp://" + silent}, Options{}, ReasonOK, "", "", true},
		{"banner expected", Spec{URL: "tcp://" + banner, Expect: []byte("SSH-2.0")}, Options{}, ReasonOK, "", "SSH-2.0", true},
		{"banner read", Spec{URL: "tcp://" + banner, ReadReply: true}, Options{}, ReasonOK, "", "SSH-2.0-netserve\r\n", true},
		{"send expect", Spec{URL: "tcp://" + echo, Send: []byte("PING 42\n"), Expect: []byte("42")}, Options{}, ReasonOK, "", "PING 42", true},
		{"expect not before EOF", Spec{URL: "tcp://" + banner, Expect: []byte("SMTP")}, Options{}, ReasonExpectMismatch, "not found in the 18 bytes", "SSH-2.0-netserve\r\n", true},
		{"expect past the limit", Spec{URL: "tcp://" + echo, Send: []byte(strings.Repeat("x", 100) + "END\n"), Expect: []byte("END")},
			Options{MaxReply: 50}, ReasonExpectMismatch, "first 50 bytes", strings.Repeat("x", 50), true},
		{"expect nothing before the deadline", Spec{URL: "tcp://" + silent, Expect: []byte("hello"), Timeout: 200 * time.Millisecond},
			Options{}, ReasonTimeout, "timeout after 200ms during read", "", true},
		{"expect partial before the deadline", Spec{URL: "tcp://" + echo, Send: []byte("hel\n"), Expect: []byte("hello"), Timeout: 300 * time.Millisecond},
			Options{}, ReasonExpectMismatch, "before the deadline", "hel\n", true},
		{"refused", Spec{URL: "tcp://" + closed}, Options{}, ReasonConnectionRefused, "refused", "", false},
		{"no such host", Spec{URL: "tcp://nowhere.invalid:80"}, Options{}, ReasonDNSError, "nowhere.invalid", "", false},
		{"blocked", Spec{URL: "tcp://" + silent}, Options{Deny: denyLoopback}, ReasonBlocked, "loopback not allowed", "", false},
		{"invalid", Spec{URL: "tcp://localhost:70000"}, Options{}, ReasonInvalidConfig, "out of range", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProber(tt.opts)
			defer p.Close()
			out := p.Probe(context.Background(), NewTarget(tt.spec))
			if out.Reason != tt.reason || !strings.Contains(out.Error, tt.errPart) {
				t.Fatalf("Probe = %s %q, want %s with %q", out.Reason, out.Error, tt.reason, tt.errPart)
			}
			if tt.reason == ReasonOK && out.Error != "" {
				t.Errorf("Error = %q on success", out.Error)
			}
			if out.Kind != KindTCP || out.Connected != tt.connected || string(out.Reply) != tt.reply {
				t.Errorf("Kind %q Connected %v Reply %q, want tcp %v %q", out.Kind, out.Connected, out.Reply, tt.connected, tt.reply)
			}
			if tt.connected && (out.IP != netip.MustParseAddr("127.0.0.1") || out.Duration <= 0 || out.Connect <= 0 || out.Connect > out.Duration) {
				t.Errorf("IP %v Duration %v Connect %v", out.IP, out.Duration, out.Connect)
			}
		})
	}
}

// TestProbeCancelled: a check whose context is cancelled is the checker's
// failure, not the site's.
func TestProbeCancelled(t *testing.T) {
	silent := netserve.TCPSilent(t)
	p := NewProber(Options{})
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	out := p.Probe(ctx, NewTarget(Spec{URL: "tcp://" + silent, Expect: []byte("x")}))
	if out.Reason != ReasonProbeError || out.Error != "check cancelled" {
		t.Errorf("Probe = %s %q, want probe_error \"check cancelled\"", out.Reason, out.Error)
	}
}

// TestProbeDeadlineFromContext: a context deadline shorter than the timeout
// is the check's deadline.
func TestProbeDeadlineFromContext(t *testing.T) {
	silent := netserve.TCPSilent(t)
	p := NewProber(Options{Timeout: 5 * time.Second})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	out := p.Probe(ctx, NewTarget(Spec{URL: "tcp://" + silent, Expect: []byte("x")}))
	if out.Reason != ReasonTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("Probe = %s %q after %s, want timeout after about 150ms", out.Reason, out.Error, time.Since(start))
	}
}

// denyLoopback is an Options.Deny refusing loopback addresses.
func denyLoopback(a netip.Addr) error {
	if a.Unmap().IsLoopback() {
		return errors.New("loopback not allowed")
	}
	return nil
}

func TestReplyCopied(t *testing.T) {
	// The Reply of one check is not overwritten by the next.
	banner := netserve.TCPBanner(t, "one")
	p := NewProber(Options{})
	defer p.Close()
	tg := NewTarget(Spec{URL: "tcp://" + banner, ReadReply: true})
	a := p.Probe(context.Background(), tg)
	b := p.Probe(context.Background(), tg)
	if !bytes.Equal(a.Reply, []byte("one")) || !bytes.Equal(b.Reply, []byte("one")) {
		t.Errorf("replies %q %q", a.Reply, b.Reply)
	}
}
