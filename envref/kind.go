package envref

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is what a check does, chosen by its URL's scheme.
type Kind string

// The kinds of check. http and https URLs are both HTTP checks.
const (
	HTTP Kind = "http"
	TCP  Kind = "tcp"
	DNS  Kind = "dns"
	TLS  Kind = "tls"
	ICMP Kind = "icmp"
)

// KindOf returns the kind of a check's URL as written, references
// unresolved: the scheme, case-insensitive, picks it, and a scheme that is
// or holds a reference (${env:BASE_URL}/health, http${env:S}://…) is an
// HTTP check, since only an HTTP URL can sensibly come from one. The error
// shows the scheme only when it is followed by "//" (so never a user name
// from "user:password@host").
func KindOf(rawURL string) (Kind, error) {
	if strings.HasPrefix(rawURL, "${") {
		return HTTP, nil
	}
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if i := strings.Index(scheme, "${"); i > 0 && validScheme(scheme[:i]) {
		return HTTP, nil
	}
	if !ok || !validScheme(scheme) {
		return "", errors.New("no scheme (want a URL such as https://example.com/ or tcp://host:5432)")
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
		return HTTP, nil
	case "tcp":
		return TCP, nil
	case "dns":
		return DNS, nil
	case "tls":
		return TLS, nil
	case "icmp":
		return ICMP, nil
	}
	const want = "(want http, https, tcp, dns, tls or icmp)"
	if strings.HasPrefix(rest, "//") && len(scheme) <= 32 {
		return "", fmt.Errorf("unknown scheme %q %s", strings.ToLower(scheme), want)
	}
	return "", errors.New("unknown scheme " + want)
}

// validScheme reports whether s is an RFC 3986 scheme.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		letter := c >= 'a' && c <= 'z'
		if i == 0 && !letter || !letter && !(s[i] >= '0' && s[i] <= '9') && s[i] != '+' && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}
