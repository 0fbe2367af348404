// Package text makes strings from outside (URLs and regexes from the
// database, error texts from websites, keys and headers from Kafka) safe to
// show: Terminal neutralises control characters and escape sequences before
// a string reaches a terminal, and Truncate shortens a string without cutting
// a UTF-8 character in half. It imports only the standard library, so every
// package may use it, the checker included.
package text

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Ellipsis ends a string Truncate shortened.
const Ellipsis = "…"

// Terminal returns s fit to print on a terminal, on one line: every control
// character (C0 including tab and newline, DEL, C1 such as U+009B CSI), every
// bidirectional-text control (U+202E and the like, which reorder what is
// shown) and every byte that is not valid UTF-8 is replaced by its Go escape
// (`\x1b`, `\n`, `\u202e`, `\xff`). An escape sequence such as "\x1b[2J"
// thus prints as the harmless text `\x1b[2J`. Other characters, non-ASCII
// letters included, are kept. Terminal returns s itself when nothing needs
// replacing.
func Terminal(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case unsafeRune(r, n):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports whether the rune r, n bytes long, must not reach a
// terminal as is.
func unsafeRune(r rune, n int) bool {
	if r == utf8.RuneError && n == 1 {
		return true // a byte that is not UTF-8, e.g. a raw 0x9b (CSI in 8-bit terminals)
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// Truncate returns s cut to at most n characters (runes, as PostgreSQL's
// varchar(n) counts them), never inside a UTF-8 character. When s is longer,
// the result is its first n-1 characters followed by Ellipsis, n characters
// in all. n < 1 gives "". A byte that is not valid UTF-8 counts as one
// character and is kept as it is.
func Truncate(s string, n int) string {
	if n < 1 {
		return ""
	}
	if len(s) <= n {
		return s // at most n bytes, so at most n characters
	}
	count, cut := 0, -1
	for i := range s { // i steps over characters, an invalid byte being one
		if count == n-1 {
			cut = i
		}
		if count == n {
			return s[:cut] + Ellipsis
		}
		count++
	}
	return s
}

// Ago renders how long ago something happened, as terminals and pages show
// it: "just now", "12s ago", "3m ago", "2h ago" (up to two days), "4d ago".
func Ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// OneLine joins the lines of s with "; " (errors.Join separates with
// newlines), without leading or trailing space: an error text for a header
// or a log line.
func OneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
