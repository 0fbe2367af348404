package checker

import (
	"context"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/text"
)

func TestDenied(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"127.255.0.9", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true}, {"100.127.255.254", true},
		{"0.0.0.0", true}, {"255.255.255.255", true}, {"224.0.0.1", true},
		{"::1", true}, {"::", true}, {"fe80::1", true}, {"fe80::1%eth0", true}, {"fc00::1", true}, {"fd12:3456::1", true}, {"ff02::1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:169.254.169.254", true}, {"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"172.32.0.1", false}, {"100.128.0.1", false}, {"2606:4700::1111", false},
		{"::ffff:8.8.8.8", false}, {"64:ff9b::808:808", false},
	}
	for _, tt := range tests {
		if got := denied(netip.MustParseAddr(tt.addr), DefaultDenyPrefixes); got != tt.want {
			t.Errorf("denied(%s) = %t, want %t", tt.addr, got, tt.want)
		}
	}
}

// TestMatchAgreesWithRegexp checks that Target.match, with its literal
// shortcuts and deadline reader, says what regexp.Match says.
func TestMatchAgreesWithRegexp(t *testing.T) {
	bodies := []string{"", "hello world", "xxabc", "abc", "foo bar\nbaz", "Example Domain", "an example domain",
		"abcabcabd", "status: ok", "xfoo", "foo", "a\xffb", "日本語 abc"}
	patterns := []string{"abc", "^abc", `\babc`, "abc$", "(?m)^baz", "(?i)example domain", "Example Domain",
		"ab[cd]", "abc(abd)?$", "status:\\s*ok", "foo|bar", "()", "x*", "^$", `\Aabc\z`, "a.b", "語 a", `abcab\w`}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range patterns {
		target := NewTarget(contract.Site{ID: 1, URL: "http://example.com/", Interval: time.Second, Regex: p})
		if err := target.Err(); err != nil {
			t.Fatalf("NewTarget(%q): %v", p, err)
		}
		re := regexp.MustCompile(p)
		for _, b := range bodies {
			got, done := target.match(ctx, []byte(b))
			if want := re.MatchString(b); got != want || !done {
				t.Errorf("match(%q, %q) = %t, %t; want %t, true", p, b, got, done, want)
			}
		}
	}
}

func TestRegexInsts(t *testing.T) {
	for _, tt := range []struct {
		re   string
		want int
	}{{"Example Domain", 16}, {`\pL{1000}X`, 1003}} {
		if got, err := contract.RegexInsts(tt.re); err != nil || got != tt.want {
			t.Errorf("RegexInsts(%q) = %d, %v; want %d", tt.re, got, err, tt.want)
		}
	}
	// The limit lets typical uptime patterns through.
	for _, re := range []string{`"status"\s*:\s*"(ok|healthy|up)"`, `[0-9a-f]{40}`, `(?i)<title>[^<]*(dashboard|status)[^<]*</title>`} {
		if err := NewTarget(contract.Site{ID: 1, URL: "http://example.com/", Interval: time.Second, Regex: re}).Err(); err != nil {
			t.Errorf("NewTarget with regex %q: %v", re, err)
		}
	}
	if err := NewTarget(contract.Site{ID: 1, URL: "http://example.com/", Interval: time.Second, Regex: `.{200}`}).Err(); err == nil ||
		!strings.Contains(err.Error(), "more than 100") {
		t.Errorf("NewTarget with a 200-instruction regex: %v, want it refused", err)
	}
}

// TestSiteTextCapped: the reason phrase a site sends is cut to
// MaxReasonPhraseLen in the error text, and Decode cuts an error text longer
// than MaxErrorLen, whichever checker wrote it.
func TestSiteTextCapped(t *testing.T) {
	phrase := "<!channel> <https://evil.example|Sign in> " + strings.Repeat("x", 500)
	addr := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = io.WriteString(c, "HTTP/1.1 503 "+phrase+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.Close()
	})
	p := NewProber(ProbeOptions{Timeout: 5 * time.Second})
	defer p.Close()
	r := p.Probe(context.Background(), NewTarget(contract.Site{ID: 1, URL: "http://" + addr + "/", Interval: time.Minute}))
	if r.Reason != contract.ReasonHTTPStatus {
		t.Fatalf("reason = %q (%s), want http_status", r.Reason, r.Error)
	}
	want := "HTTP 503 " + text.Truncate(phrase, MaxReasonPhraseLen)
	if r.Error != want || utf8.RuneCountInString(strings.TrimPrefix(r.Error, "HTTP 503 ")) != MaxReasonPhraseLen {
		t.Errorf("error = %q, want %q", r.Error, want)
	}

}
