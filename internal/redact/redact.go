// Package redact is how a website's URL is shown anywhere outside the
// prober's memory: URL drops its user info (and, for public pages, masks its
// query values), Text does the same for every URL quoted in a free text.
package redact

import (
	"regexp"
	"strings"
)

// QueryMode says whether URL shows a URL's query values.
type QueryMode int

const (
	// KeepQuery keeps the query as written: what an operator sees (alerts,
	// notifications.payload, logs, the CLI, results).
	KeepQuery QueryMode = iota
	// MaskQuery replaces every non-empty query value by "…" ("?key=…"),
	// keeping the names: what the public surfaces of `serve` show (pages,
	// API, badges) unless SITESTAT_HTTP_PUBLIC_QUERY=true.
	MaskQuery
)

// Masked is what MaskQuery puts in place of a query value.
const Masked = "…"

// String names the mode, for test messages.
func (m QueryMode) String() string {
	if m == MaskQuery {
		return "MaskQuery"
	}
	return "KeepQuery"
}

// URL is the one function through which a website's URL is shown
// anywhere outside the checker's memory (results, alerts, the outbox, pages,
// API, badges, logs, the CLI). It returns the URL text raw without its user
// info — no password and no user name: "https://ops:S3cret@intranet/health"
// gives "https://intranet/health" — and, with MaskQuery, with its query
// values masked. Everything else is kept as written. It works on text
// url.Parse refuses too (an invalid site is still shown), finding the user
// info as url.Parse would: between "//" and the last "@" of the authority,
// which ends at the first "/", "?" or "#". The request itself still sends
// the credentials.
func URL(raw string, mode QueryMode) string {
	out := stripUserinfo(raw)
	if mode == MaskQuery {
		out = maskQuery(out)
	}
	return out
}

// Text returns a free text (an error text, which may quote URLs) with
// every URL in it shown through URL.
func Text(s string, mode QueryMode) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, func(u string) string { return URL(u, mode) })
}

// urlInText matches a URL in free text: a scheme, "://" and what follows up
// to a space, a quote or an angle bracket.
var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// stripUserinfo removes the user info of raw, if it has a scheme and one.
func stripUserinfo(raw string) string {
	i := strings.Index(raw, "://")
	if i <= 0 || strings.ContainsAny(raw[:i], "/?#") {
		return raw // no scheme: no authority, no user info
	}
	start := i + len("://")
	authority := raw[start:]
	if j := strings.IndexAny(authority, "/?#"); j >= 0 {
		authority = authority[:j]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	return raw[:start] + raw[start+at+1:]
}

// maskQuery replaces the non-empty values of raw's query by Masked.
func maskQuery(raw string) string {
	q := strings.Index(raw, "?")
	if q < 0 || strings.Contains(raw[:q], "#") {
		return raw // no query, or a "?" in the fragment
	}
	query, frag := raw[q+1:], ""
	if h := strings.Index(query, "#"); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if name, value, ok := strings.Cut(p, "="); ok && value != "" {
			parts[i] = name + "=" + Masked
		}
	}
	return raw[:q+1] + strings.Join(parts, "&") + frag
}
