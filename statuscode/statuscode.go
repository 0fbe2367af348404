// Package statuscode parses a check's expected HTTP status codes, the
// expect_status option: a comma-separated list of codes (200), classes
// (2xx) and ranges (200-299), and tells whether a final status matches.
//
// How the integrator calls it: parse once when the site is added or loaded,
// set, err := statuscode.Parse(site.ExpectStatus) (an error is one line,
// such as `expect_status: "2x": want a code (200), a class (2xx) or a range
// (200-299)`, exit 2 at `sites add`, invalid_config for a site read from the
// table); an empty option means statuscode.Default(followRedirects). After
// the request, set.Match(resp.StatusCode) decides http_status.
package statuscode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxItems bounds the items of one list.
const MaxItems = 32

// Set is a parsed list of expected status codes. The zero Set matches
// nothing; get one from Parse or Default.
type Set struct {
	items []item
}

// item is one entry of the list: the codes lo to hi, and how it was
// written ("404", "2xx", "200-299").
type item struct {
	lo, hi int
	text   string
}

// Parse reads an expect_status list: codes, classes and ranges separated
// by commas, spaces around them allowed. Classes are case-insensitive.
func Parse(s string) (Set, error) {
	if strings.TrimSpace(s) == "" {
		return Set{}, errors.New("expect_status: empty (want codes such as 200,2xx,200-299)")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxItems {
		return Set{}, fmt.Errorf("expect_status: more than %d items", MaxItems)
	}
	var set Set
	for _, p := range parts {
		it, err := parseItem(strings.TrimSpace(p))
		if err != nil {
			return Set{}, fmt.Errorf("expect_status: %q: %w", short(p), err)
		}
		set.items = append(set.items, it)
	}
	return set, nil
}

var (
	errSyntax = errors.New("want a code (200), a class (2xx) or a range (200-299)")
	errCode   = errors.New("a status code is from 100 to 599")
	errClass  = errors.New("a class is 1xx to 5xx")
	errRange  = errors.New("the range ends before it starts")
)

// parseItem reads one code, class or range.
func parseItem(p string) (item, error) {
	if len(p) == 3 && (p[1]|0x20) == 'x' && (p[2]|0x20) == 'x' {
		if p[0] < '1' || p[0] > '5' {
			return item{}, errClass
		}
		lo := int(p[0]-'0') * 100
		return item{lo: lo, hi: lo + 99, text: p[:1] + "xx"}, nil
	}
	if a, b, ok := strings.Cut(p, "-"); ok {
		lo, err := code(a)
		if err != nil {
			return item{}, err
		}
		hi, err := code(b)
		if err != nil {
			return item{}, err
		}
		if hi < lo {
			return item{}, errRange
		}
		return item{lo: lo, hi: hi, text: p}, nil
	}
	c, err := code(p)
	return item{lo: c, hi: c, text: p}, err
}

// code reads one status code: three ASCII digits, 100 to 599.
func code(s string) (int, error) {
	if len(s) == 0 || len(s) > 3 {
		return 0, errSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errSyntax
		}
	}
	n, _ := strconv.Atoi(s)
	if n < 100 || n > 599 {
		return 0, errCode
	}
	return n, nil
}

// short cuts a bad item for an error message.
func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 20 {
		return strings.ToValidUTF8(s[:20], "") + "…"
	}
	return s
}

// Match reports whether code is expected.
func (s Set) Match(code int) bool {
	for _, it := range s.items {
		if code >= it.lo && code <= it.hi {
			return true
		}
	}
	return false
}

// String returns the list as written, without spaces ("200,2xx,200-299").
func (s Set) String() string {
	texts := make([]string, len(s.items))
	for i, it := range s.items {
		texts[i] = it.text
	}
	return strings.Join(texts, ",")
}

// Default is the rule when expect_status is empty, today's: when redirects
// are followed, the final status must be 2xx (a 3xx that is still final, a
// 304 or one without Location, is down, http_status, as before); a check
// told not to follow redirects takes a 3xx as its answer, so 2xx and 3xx.
func Default(followRedirects bool) Set {
	if followRedirects {
		return Set{items: []item{{lo: 200, hi: 299, text: "2xx"}}}
	}
	return Set{items: []item{{lo: 200, hi: 299, text: "2xx"}, {lo: 300, hi: 399, text: "3xx"}}}
}
