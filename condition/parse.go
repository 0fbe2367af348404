package condition

import (
	"fmt"
	"strings"
)

// MaxLen bounds the length of one condition, in bytes.
const MaxLen = 1024

// SyntaxError is a condition Parse refused. Pos is the 1-based byte
// position in the condition where the problem starts (as an editor counts
// columns on one line).
type SyntaxError struct {
	Pos int
	Msg string
}

// Error returns "position 9: unknown placeholder [STATU]".
func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

func errAt(pos int, msg string) error { return &SyntaxError{Pos: pos, Msg: msg} }

// Op is a comparison operator.
type Op uint8

// The operators, as Gatus writes them (with a space on each side).
const (
	opNone Op = iota
	Eq        // ==
	Ne        // !=
	Le        // <=
	Ge        // >=
	Gt        // >
	Lt        // <
)

// ops lists the operators in the order Gatus looks for them.
func ops() [6]Op { return [6]Op{Eq, Ne, Le, Ge, Gt, Lt} }

// String returns the operator as written.
func (o Op) String() string {
	switch o {
	case Eq:
		return "=="
	case Ne:
		return "!="
	case Le:
		return "<="
	case Ge:
		return ">="
	case Gt:
		return ">"
	case Lt:
		return "<"
	}
	return "?"
}

func (o Op) ordering() bool { return o >= Le }

// placeholder names what a check observed.
type placeholder uint8

const (
	phNone placeholder = iota // a literal
	phStatus
	phResponseTime
	phBody
	phHeader
	phCertExpiration
	phConnected
	phIP
	phDNSRcode
)

// lookupPlaceholder maps an upper-cased bracketed name to its placeholder;
// ok is false for a name we do not know, and unsupported says why a name
// Gatus knows is refused here.
func lookupPlaceholder(name string) (ph placeholder, unsupported string, ok bool) {
	switch name {
	case "[STATUS]":
		return phStatus, "", true
	case "[RESPONSE_TIME]":
		return phResponseTime, "", true
	case "[BODY]":
		return phBody, "", true
	case "[HEADER]":
		return phHeader, "", true
	case "[CERTIFICATE_EXPIRATION]":
		return phCertExpiration, "", true
	case "[CONNECTED]":
		return phConnected, "", true
	case "[IP]":
		return phIP, "", true
	case "[DNS_RCODE]":
		return phDNSRcode, "", true
	case "[DOMAIN_EXPIRATION]":
		return phNone, "[DOMAIN_EXPIRATION] is not supported (sitestat does no WHOIS lookups)", false
	case "[CONTEXT]":
		return phNone, "[CONTEXT] is not supported (sitestat has no suites)", false
	}
	return phNone, "", false
}

// function is a function around an operand.
type function uint8

const (
	fnNone function = iota
	fnLen
	fnHas
	fnPat
	fnAny
)

// operand is one side of a condition.
type operand struct {
	text    string // as written, without surrounding spaces
	pos     int    // 1-based position of text in the condition
	fn      function
	ph      placeholder
	path    []segment // [BODY]'s JSON path; nil for the whole body
	hasPath bool      // [BODY] was followed by a path
	header  string    // [HEADER]'s header name
	lit     string    // a literal; pat()'s pattern (separators removed)
	options []string  // any()'s options
}

// Condition is one parsed condition. The zero Condition is not valid; get
// one from Parse.
type Condition struct {
	expr        string
	op          Op
	left, right operand
}

// String returns the condition as written.
func (c Condition) String() string { return c.expr }

// Parse reads one condition in Gatus's syntax: two operands around one of
// the operators == != < <= > >=, with a space on each side of it. An
// operand is a placeholder ([STATUS], [RESPONSE_TIME], [BODY], [BODY].path,
// [HEADER].Name, [CERTIFICATE_EXPIRATION], [CONNECTED], [IP], [DNS_RCODE];
// case-insensitive), len() or has() of a placeholder, pat(PATTERN),
// any(A, B, …) or a literal. The error is a *SyntaxError with the position.
func Parse(expr string) (Condition, error) {
	if len(expr) > MaxLen {
		return Condition{}, errAt(MaxLen+1, fmt.Sprintf("condition longer than %d bytes", MaxLen))
	}
	if strings.TrimSpace(expr) == "" {
		return Condition{}, errAt(1, "empty condition")
	}
	op, at, err := findOp(expr)
	if err != nil {
		return Condition{}, err
	}
	c := Condition{expr: expr, op: op}
	width := len(op.String()) + 2
	if c.left, err = parseOperand(expr[:at], 1); err != nil {
		return Condition{}, err
	}
	if c.right, err = parseOperand(expr[at+width:], at+width+1); err != nil {
		return Condition{}, err
	}
	if err := c.check(); err != nil {
		return Condition{}, err
	}
	return c, nil
}

// findOp finds the one operator of expr outside parentheses (Gatus's
// priority when several kinds appear: == != <= >= > <), returning its
// 0-based offset, space included.
func findOp(expr string) (Op, int, error) {
	found := opNone
	at := -1
	for _, o := range ops() {
		for _, i := range opOffsets(expr, " "+o.String()+" ") {
			if found != opNone {
				second := max(i, at) + 2
				return opNone, 0, errAt(second, "more than one operator (a condition compares two things)")
			}
			found, at = o, i
		}
	}
	if found == opNone {
		return opNone, 0, errAt(1, "no operator (want one of == != < <= > >=, with a space on each side)")
	}
	return found, at, nil
}

// opOffsets returns where tok occurs outside parentheses in expr; when
// parentheses do not balance (a pattern may hold one), anywhere.
func opOffsets(expr, tok string) []int {
	var top, all []int
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			depth = max(depth-1, 0)
		}
		if strings.HasPrefix(expr[i:], tok) {
			all = append(all, i)
			if depth == 0 {
				top = append(top, i)
			}
		}
	}
	if depth != 0 && len(top) == 0 {
		return all
	}
	return top
}
