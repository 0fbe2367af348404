package netprobe

import (
	"context"
	"strings"
	"testing"
)

// TestValidate: every bad input of issue 20 is refused with one clear line,
// and a probe of it gives invalid_config with that line.
func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 60) + "."
	name254 := strings.Repeat(long, 4) + strings.Repeat("b", 10) // 254 bytes
	name253 := name254[:253]
	tests := []struct {
		name string
		spec Spec
		want string // "" for valid; else a part of the error
		kind Kind
	}{
		{"tcp", Spec{URL: "tcp://db.example.com:5432"}, "", KindTCP},
		{"tcp ip6", Spec{URL: "tcp://[::1]:22", Expect: []byte("SSH-")}, "", KindTCP},
		{"tcp upper scheme", Spec{URL: "TCP://db.example.com:5432"}, "", KindTCP},
		{"dns", Spec{URL: "dns://1.1.1.1/example.com?type=MX"}, "", KindDNS},
		{"dns default type", Spec{URL: "dns://1.1.1.1:5353/example.com"}, "", KindDNS},
		{"dns lower type", Spec{URL: "dns://[2606:4700::1111]/example.com?type=aaaa"}, "", KindDNS},
		{"dns 253 bytes", Spec{URL: "dns://1.1.1.1/" + name253}, "", KindDNS},
		{"dns underscore", Spec{URL: "dns://1.1.1.1/_dmarc.example.com.?type=TXT"}, "", KindDNS},
		{"tls", Spec{URL: "tls://example.com"}, "", KindTLS},
		{"tls sni", Spec{URL: "tls://10.0.0.1:8443?sni=api.example.com"}, "", KindTLS},
		{"icmp", Spec{URL: "icmp://example.com"}, "", KindICMP},
		{"icmp ip6", Spec{URL: "icmp://[::1]"}, "", KindICMP},

		{"unknown scheme", Spec{URL: "ftp://example.com"}, `unknown scheme "ftp"`, ""},
		{"no scheme", Spec{URL: "example.com:80"}, "unknown scheme", ""},
		{"unparsable", Spec{URL: "tcp://exa mple.com:80"}, "invalid url", KindTCP},
		{"tcp no port", Spec{URL: "tcp://example.com"}, "needs a port", KindTCP},
		{"tcp port 0", Spec{URL: "tcp://example.com:0"}, `port "0" out of range`, KindTCP},
		{"tcp port 65536", Spec{URL: "tcp://example.com:65536"}, `port "65536" out of range`, KindTCP},
		{"tcp port text", Spec{URL: "tcp://example.com:http"}, "invalid url", KindTCP},
		{"tcp no host", Spec{URL: "tcp://:80"}, "no host", KindTCP},
		{"tcp path", Spec{URL: "tcp://example.com:80/x"}, "path", KindTCP},
		{"tcp query", Spec{URL: "tcp://example.com:80?send=x"}, `unknown parameter "send"`, KindTCP},
		{"tcp user info", Spec{URL: "tcp://bob:hunter2@example.com:80"}, "user information", KindTCP},
		{"tls port", Spec{URL: "tls://example.com:99999"}, "out of range", KindTLS},
		{"tls bad sni", Spec{URL: "tls://example.com?sni=a..b"}, "invalid sni", KindTLS},
		{"tls send", Spec{URL: "tls://example.com", Send: []byte("x")}, "send and expect are for tcp", KindTLS},
		{"dns 254 bytes", Spec{URL: "dns://1.1.1.1/" + name254}, "254 bytes, more than 253", KindDNS},
		{"dns label 64", Spec{URL: "dns://1.1.1.1/" + strings.Repeat("c", 64) + ".com"}, "label of 64 bytes", KindDNS},
		{"dns empty label", Spec{URL: "dns://1.1.1.1/a..com"}, "empty label", KindDNS},
		{"dns no name", Spec{URL: "dns://1.1.1.1/"}, "no name", KindDNS},
		{"dns unknown type", Spec{URL: "dns://1.1.1.1/example.com?type=SRV"}, `unknown type "SRV"`, KindDNS},
		{"dns port", Spec{URL: "dns://1.1.1.1:0/example.com"}, "out of range", KindDNS},
		{"dns space", Spec{URL: "dns://1.1.1.1/exa%20mple.com"}, "invalid character", KindDNS},
		{"icmp port", Spec{URL: "icmp://example.com:7"}, "no port", KindICMP},
		{"icmp query", Spec{URL: "icmp://example.com?count=3"}, "unknown parameter", KindICMP},
		{"negative timeout", Spec{URL: "icmp://example.com", Timeout: -1}, "timeout", KindICMP},
	}
	p := NewProber(Options{})
	defer p.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := NewTarget(tt.spec)
			if got := tg.Kind(); got != tt.kind {
				t.Errorf("Kind() = %q, want %q", got, tt.kind)
			}
			err := Validate(tt.spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error with %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2") {
				t.Errorf("Validate: %q, want one line with %q and no password", msg, tt.want)
			}
			out := p.Probe(context.Background(), tg)
			if out.Reason != ReasonInvalidConfig || out.Error != msg {
				t.Errorf("Probe: %s %q, want %s %q", out.Reason, out.Error, ReasonInvalidConfig, msg)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	for scheme, want := range map[string]Kind{"tcp": KindTCP, "DNS": KindDNS, "tls": KindTLS, "icmp": KindICMP, "http": "", "": ""} {
		if got, ok := KindOf(scheme); got != want || ok != (want != "") {
			t.Errorf("KindOf(%q) = %q, %v; want %q", scheme, got, ok, want)
		}
	}
}
