package checker

import (
	"net/url"
	"strings"
)

// Redacted is what RedactURL puts in place of a password, as
// net/url.URL.Redacted does.
const Redacted = "xxxxx"

// RedactURL returns the URL text raw with the password of its user info
// replaced by "xxxxx", as net/url.URL.Redacted does
// ("https://user:secret@host/" gives "https://user:xxxxx@host/"); everything
// else is kept as written. It works on text url.Parse refuses too (an
// invalid site is still shown), finding the user info as url.Parse would:
// between "//" and the last "@" of the authority, which ends at the first
// "/", "?" or "#". Results, logs and the CLI show URLs through RedactURL;
// the request itself still sends the credentials.
func RedactURL(raw string) string {
	i := strings.Index(raw, "://")
	if i <= 0 || strings.ContainsAny(raw[:i], "/?#") {
		return raw // no scheme: no authority, no user info
	}
	start := i + len("://")
	rest := raw[start:]
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	colon := strings.Index(authority[:at], ":")
	if colon < 0 {
		return raw // a user name alone: no password
	}
	return raw[:start+colon+1] + Redacted + raw[start+at:]
}

// redactedString is u.String() with its password redacted.
func redactedString(u *url.URL) string {
	if u == nil {
		return ""
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return u.String()
}
