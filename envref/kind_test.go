package envref

import (
	"strings"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		url  string
		want Kind
	}{
		{"http://example.com/", HTTP},
		{"https://example.com/", HTTP},
		{"HTTPS://example.com/", HTTP},
		{"tcp://db.internal:5432", TCP},
		{"dns://1.1.1.1/example.com?type=A", DNS},
		{"tls://mail.example.com:465", TLS},
		{"icmp://10.0.0.1", ICMP},
		{"${env:BASE_URL}/health", HTTP},
		{"${env:SCHEME:-https}://example.com/", HTTP},
		{"http${env:S:-s}://example.com/", HTTP},
	}
	for _, tt := range tests {
		got, err := KindOf(tt.url)
		if err != nil || got != tt.want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestKindOfErrors(t *testing.T) {
	tests := []struct{ url, msg string }{
		{"ftp://example.com/", `unknown scheme "ftp" (want http, https, tcp, dns, tls or icmp)`},
		{"example.com", "no scheme"},
		{"", "no scheme"},
		{"admin:hunter2@example.com", "unknown scheme (want"},
		{"1http://x", "no scheme"},
		{"ht tp://x", "no scheme"},
	}
	for _, tt := range tests {
		_, err := KindOf(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("KindOf(%q) = %v, want %q", tt.url, err, tt.msg)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin") {
			t.Errorf("KindOf(%q): the error %q shows user information", tt.url, err)
		}
	}
}
