package condition

import (
	"path/filepath"
	"strings"
)

// compare applies c's operator to its resolved sides. A side that could not
// be resolved fails the condition, whatever the operator.
func compare(c *Condition, l, r value) bool {
	if l.invalid != "" || r.invalid != "" {
		return false
	}
	if l.set != nil || r.set != nil {
		return compareSet(c, l, r)
	}
	if c.op == Eq || c.op == Ne {
		return equal(&c.left, l.s, &c.right, r.s) == (c.op == Eq)
	}
	return order(c.op, l.s, r.s)
}

// compareSet compares a DNS [BODY]: == holds when any answer is equal, !=
// when none is, an ordering when any answer satisfies it.
func compareSet(c *Condition, l, r value) bool {
	set, other, setLeft := l.set, r, true
	if set == nil {
		set, other, setLeft = r.set, l, false
	}
	for _, a := range set {
		var hit bool
		switch {
		case c.op == Eq || c.op == Ne:
			hit = setLeft && equal(&c.left, a, &c.right, other.s) || !setLeft && equal(&c.left, other.s, &c.right, a)
		case setLeft:
			hit = order(c.op, a, other.s)
		default:
			hit = order(c.op, other.s, a)
		}
		if hit {
			return c.op != Ne
		}
	}
	return c.op == Ne
}

// equal compares two values: pat() as filepath.Match, any() as equality to
// one of its options, two numbers as decimals, anything else as text.
func equal(lo *operand, l string, ro *operand, r string) bool {
	switch {
	case lo.fn == fnPat:
		return match(lo.lit, r)
	case ro.fn == fnPat:
		return match(ro.lit, l)
	case lo.fn == fnAny:
		return anyOf(lo.options, r)
	case ro.fn == fnAny:
		return anyOf(ro.options, l)
	}
	return same(l, r)
}

func same(a, b string) bool {
	if da, ok := parseDecimal(a); ok {
		if db, ok := parseDecimal(b); ok {
			return cmpDecimal(da, db) == 0
		}
	}
	return a == b
}

func anyOf(options []string, s string) bool {
	for _, o := range options {
		if same(o, s) {
			return true
		}
	}
	return false
}

// match is Gatus's pattern.Match: "*" matches anything, and path
// separators are removed from both sides before filepath.Match.
func match(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	s = strings.ReplaceAll(s, string(filepath.Separator), "")
	ok, _ := filepath.Match(pattern, s)
	return ok
}

// order applies an ordering operator to two numbers (or durations, in
// milliseconds); a side that is neither makes it false.
func order(op Op, l, r string) bool {
	a, ok := literalNumber(l)
	if !ok {
		return false
	}
	b, ok := literalNumber(r)
	if !ok {
		return false
	}
	c := cmpDecimal(a, b)
	switch op {
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	}
	return false
}
