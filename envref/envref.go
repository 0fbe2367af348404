// Package envref resolves ${env:NAME} and ${env:NAME:-default} references in
// a check's URL, headers and body, so that secrets stay on the checker host:
// the site as stored (and as shown in results, logs, pages and alerts)
// carries the reference, and only the request the checker sends carries the
// value.
//
// How the integrator calls it: at `sites add`, Check(text) refuses a
// malformed reference with one line (the value of a variable is not needed,
// nor looked up). At check time, Expand(text, os.LookupEnv) returns the text
// to send; an error (a *MissingError for a variable that is not set, naming
// the variable, never a value) makes the result invalid_config for that site
// only. Text without "${env:" comes back unchanged, with no allocation.
// KindOf tells a check's kind from its URL as written, a URL whose scheme
// is itself a reference being an http check.
//
// Syntax: ${env:NAME} is the variable NAME (letters, digits and '_', not
// starting with a digit); ${env:NAME:-default} is its value, or default
// when it is unset or empty, as in a POSIX shell. The default is text that
// may hold references itself, nested up to MaxDepth deep, and braces that
// balance. A value is inserted as it is: references inside a value are not
// expanded again. Anything else ($NAME, ${NAME}, ${other:…}) is plain text.
package envref

import (
	"fmt"
	"strings"
)

// MaxDepth bounds how deep references nest inside defaults.
const MaxDepth = 8

const prefix = "${env:"

// Lookup finds an environment variable, as os.LookupEnv does.
type Lookup func(name string) (string, bool)

// MissingError is a reference to a variable that is not set and has no
// default.
type MissingError struct{ Name string }

// Error names the variable, never a value.
func (e *MissingError) Error() string {
	return fmt.Sprintf("environment variable %s is not set", e.Name)
}

// SyntaxError is a malformed reference; Pos is 1-based, in bytes.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error returns "position 7: unclosed ${env:".
func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// Has reports whether s holds a reference (or something that starts like one).
func Has(s string) bool { return strings.Contains(s, prefix) }

// Expand returns s with its references resolved through lookup.
func Expand(s string, lookup Lookup) (string, error) {
	if !Has(s) {
		return s, nil
	}
	p := parser{s: s, lookup: lookup}
	var b strings.Builder
	b.Grow(len(s))
	if err := p.text(&b, 0, false); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Check reports a malformed reference in s, without looking anything up.
func Check(s string) error {
	if !Has(s) {
		return nil
	}
	p := parser{s: s}
	return p.text(nil, 0, false)
}

// parser reads s from i. With a nil builder it only checks the syntax.
type parser struct {
	s      string
	i      int
	lookup Lookup
}

// text copies text to b until the end of s or, in a default, the '}'
// closing it, resolving the references on the way.
func (p *parser) text(b *strings.Builder, depth int, inDefault bool) error {
	braces := 0
	for p.i < len(p.s) {
		switch {
		case strings.HasPrefix(p.s[p.i:], prefix):
			if err := p.ref(b, depth); err != nil {
				return err
			}
			continue
		case inDefault && p.s[p.i] == '{':
			braces++
		case inDefault && p.s[p.i] == '}':
			if braces == 0 {
				return nil
			}
			braces--
		}
		if b != nil {
			b.WriteByte(p.s[p.i])
		}
		p.i++
	}
	if inDefault {
		return &SyntaxError{Pos: len(p.s) + 1, Msg: "unclosed ${env:"}
	}
	return nil
}

// ref reads one reference at p.i and writes its value to b.
func (p *parser) ref(b *strings.Builder, depth int) error {
	start := p.i
	if depth >= MaxDepth {
		return &SyntaxError{Pos: start + 1, Msg: fmt.Sprintf("references nested deeper than %d", MaxDepth)}
	}
	p.i += len(prefix)
	nameStart := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i], p.i == nameStart) {
		p.i++
	}
	name := p.s[nameStart:p.i]
	rest := p.s[p.i:]
	switch {
	case rest == "" || name != "" && !strings.HasPrefix(rest, "}") && !strings.HasPrefix(rest, ":-") && !strings.ContainsAny(rest, "}"):
		return &SyntaxError{Pos: start + 1, Msg: "unclosed ${env:"}
	case name == "" || !strings.HasPrefix(rest, "}") && !strings.HasPrefix(rest, ":-"):
		return &SyntaxError{Pos: nameStart + 1, Msg: "bad variable name (want letters, digits and _, as in ${env:API_TOKEN})"}
	}
	value, set := "", false
	if b != nil {
		value, set = p.lookup(name)
	}
	if rest[0] == '}' {
		p.i++
		if b != nil && !set {
			return &MissingError{Name: name}
		}
		if b != nil {
			b.WriteString(value)
		}
		return nil
	}
	p.i += 2 // :-
	useDefault := b != nil && value == ""
	if b != nil && !useDefault {
		b.WriteString(value)
		b = nil // the default is only checked
	}
	if err := p.text(b, depth+1, true); err != nil {
		return err
	}
	p.i++ // }
	return nil
}

// isNameByte reports whether c may be in a variable name.
func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || !first && c >= '0' && c <= '9'
}
