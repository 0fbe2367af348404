package contract

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
)

// What a valid Site is: the rules by which a checker reports
// ReasonInvalidConfig, and by which the store refuses a site before it is
// stored, so that what is stored is what can be checked.

// MaxRegexInsts bounds the size of an up_regex's compiled program, counted
// as regexp/syntax compiles it (Parse with syntax.Perl, Simplify, Compile,
// len(prog.Inst)). Matching costs time in proportion to the body's length
// times the program's size in the worst case: measured on a 2-core
// development machine with a 1 MiB body chosen to keep every thread alive
// (all letters), \pL{10}X (13 instructions) took 0.20 s, \pL{100}X (103)
// 1.8 s and \pL{1000}X (1,003) 18.6 s, about 18 ms per instruction per MiB;
// on a 1 MiB HTML page the same patterns took 80–120 ms. 100 instructions
// keeps the worst case under 2 s of CPU per MiB matched, while the patterns
// uptime checks use stay far below it ("Example Domain" is 16,
// `"status"\s*:\s*"(ok|healthy|up)"` 32, [0-9a-f]{40} 42). The check's
// deadline bounds the match besides (ReasonTimeout).
const MaxRegexInsts = 100

// Validate reports every reason s cannot be checked, joined in this order:
// an invalid URL (unparsable, not http or https, no host, a port out of
// range), an invalid up_regex (Go RE2 syntax, or a program larger than
// MaxRegexInsts) and a non-positive interval. It returns nil for a site a
// checker can check.
func (s Site) Validate() error {
	var errs []error
	if _, err := ParseSiteURL(s.URL); err != nil {
		errs = append(errs, err)
	}
	if s.Regex != "" {
		if _, _, err := CompileSiteRegex(s.Regex); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Interval <= 0 {
		errs = append(errs, fmt.Errorf("invalid check interval %s: must be positive", s.Interval))
	}
	return errors.Join(errs...)
}

// ParseSiteURL parses raw as the URL of a site: http or https, with a host
// and a valid port. The error starts "invalid url: ".
func ParseSiteURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid url: scheme %q is not http or https", u.Scheme)
	case u.Hostname() == "":
		return nil, errors.New("invalid url: no host")
	case !validPort(u.Port()):
		return nil, fmt.Errorf("invalid url: port %q out of range", u.Port())
	}
	return u, nil
}

// CompileSiteRegex compiles an up_regex, returning it and its program as
// regexp/syntax compiles it (the prober uses its literal prefix). A pattern
// that is not Go RE2 or whose program is larger than MaxRegexInsts is an
// error starting "invalid up_regex: ".
func CompileSiteRegex(re string) (*regexp.Regexp, *syntax.Prog, error) {
	compiled, err := regexp.Compile(re)
	var prog *syntax.Prog
	if err == nil {
		prog, err = compileProg(re)
	}
	if err == nil && len(prog.Inst) > MaxRegexInsts {
		err = fmt.Errorf("compiles to %d instructions, more than %d: matching it could cost seconds per check; simplify it",
			len(prog.Inst), MaxRegexInsts)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("invalid up_regex: %w", err)
	}
	return compiled, prog, nil
}

// RegexInsts returns the size of the compiled program of the Go RE2
// pattern re, as MaxRegexInsts counts it.
func RegexInsts(re string) (int, error) {
	prog, err := compileProg(re)
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

// compileProg compiles re as regexp.Compile does.
func compileProg(re string) (*syntax.Prog, error) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return syntax.Compile(parsed.Simplify())
}

// validPort reports whether p is empty or a port number.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}
