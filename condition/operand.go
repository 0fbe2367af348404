package condition

import (
	"path/filepath"
	"strings"
	"time"
)

// parseOperand reads one side; pos is the 1-based position of raw.
func parseOperand(raw string, pos int) (operand, error) {
	trimmed := strings.TrimLeft(raw, " \t")
	pos += len(raw) - len(trimmed)
	text := strings.TrimRight(trimmed, " \t")
	o := operand{text: text, pos: pos}
	if text == "" {
		return o, errAt(pos, "missing operand")
	}
	switch {
	case isCall(text, "len("), isCall(text, "has("):
		o.fn = fnLen
		if text[0] == 'h' {
			o.fn = fnHas
		}
		inner := text[4 : len(text)-1]
		lead := len(inner) - len(strings.TrimLeft(inner, " "))
		if err := o.parsePlaceholder(strings.TrimSpace(inner), pos+4+lead); err != nil {
			return o, err
		}
		if o.ph == phNone {
			return o, errAt(pos, text[:3]+"() takes a placeholder, such as "+text[:3]+"([BODY].items)")
		}
		return o, nil
	case isCall(text, "pat("):
		o.fn = fnPat
		o.lit = strings.ReplaceAll(text[4:len(text)-1], string(filepath.Separator), "")
		if _, err := filepath.Match(o.lit, ""); err != nil {
			return o, errAt(pos+4, "malformed pattern (pat() uses Go's filepath.Match: * ? [a-z] and \\ to escape)")
		}
		return o, nil
	case isCall(text, "any("):
		o.fn = fnAny
		for _, opt := range strings.Split(text[4:len(text)-1], ",") {
			o.options = append(o.options, strings.TrimSpace(opt))
		}
		return o, nil
	}
	if err := o.parsePlaceholder(text, pos); err != nil {
		return o, err
	}
	if o.ph == phNone {
		o.lit = text
		if i := strings.Index(text, "${"); i >= 0 {
			return o, errAt(pos+i, "${…} is not expanded in conditions; write the value")
		}
	}
	return o, nil
}

// isCall reports whether text is prefix…) as Gatus recognises functions.
func isCall(text, prefix string) bool {
	return len(text) > len(prefix) && strings.HasPrefix(text, prefix) && strings.HasSuffix(text, ")")
}

// parsePlaceholder fills o from text when text is a placeholder, leaves o
// a literal when text does not look like one ("[1,2]", "up"), and fails on
// a bracketed name it does not know ("[STATU]").
func (o *operand) parsePlaceholder(text string, pos int) error {
	if !strings.HasPrefix(text, "[") {
		return nil
	}
	end := strings.IndexByte(text, ']')
	if end < 0 || !isName(text[1:end]) {
		return nil
	}
	name := strings.ToUpper(text[:end+1])
	ph, unsupported, ok := lookupPlaceholder(name)
	switch {
	case unsupported != "":
		return errAt(pos, unsupported)
	case !ok:
		return errAt(pos, "unknown placeholder "+quoteName(text[:end+1]))
	}
	o.ph = ph
	rest := text[end+1:]
	switch ph {
	case phBody:
		path, err := parsePath(rest, pos+end+1)
		o.path, o.hasPath = path, rest != ""
		return err
	case phHeader:
		if len(rest) < 2 || rest[0] != '.' || !isToken(rest[1:]) {
			return errAt(pos+end+1, "[HEADER] needs a header name, as in [HEADER].Content-Type")
		}
		o.header = rest[1:]
		return nil
	}
	if rest != "" {
		return errAt(pos+end+1, "unexpected text after "+name)
	}
	return nil
}

// isName reports whether s is a placeholder-like name: letters and '_'.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < 'a' || c > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// quoteName returns a short bracketed name for an error (it is letters and
// '_' only, but may be long).
func quoteName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// quote returns s quoted and shortened, for errors.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// check refuses the combinations that can never mean anything.
func (c *Condition) check() error {
	l, r := &c.left, &c.right
	if l.ph == phNone && r.ph == phNone {
		return errAt(1, "neither side is a placeholder such as [STATUS]")
	}
	for _, o := range []*operand{l, r} {
		if (o.fn == fnPat || o.fn == fnAny) && c.op != Eq && c.op != Ne {
			return errAt(o.pos, o.text[:3]+"() works with == and != only")
		}
		if c.op.ordering() && !o.orderable() {
			return errAt(o.pos, quote(o.text)+" is not a number or a duration; "+c.op.String()+" compares numbers")
		}
	}
	return nil
}

// orderable reports whether o can stand beside < or >.
func (o *operand) orderable() bool {
	switch {
	case o.fn == fnHas, o.fn == fnPat, o.fn == fnAny:
		return false
	case o.fn == fnLen:
		return true
	}
	switch o.ph {
	case phConnected, phIP, phDNSRcode:
		return false
	case phNone:
		_, ok := literalNumber(o.lit)
		return ok
	}
	return true
}

// literalNumber reads a value beside < or >: a number or, as Gatus does, a
// duration ("48h", "1.5s"), which counts in milliseconds.
func literalNumber(s string) (decimal, bool) {
	if d, err := time.ParseDuration(s); err == nil && d != 0 {
		return durationMillis(d), true
	}
	return parseDecimal(s)
}
