package condition

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// maxDepth bounds the nesting the scanner skips over, as encoding/json
// bounds what it decodes.
const maxDepth = 10000

// jsonKind is the type of a JSON value the scanner found.
type jsonKind uint8

const (
	jNone jsonKind = iota // not found (yet)
	jString
	jNumber
	jBool
	jNull
	jObject
	jArray
)

// jsonValue is what the scanner found at one path: the value's bytes as
// they are in the body, its kind and, for an array, its element count.
type jsonValue struct {
	kind  jsonKind
	raw   []byte
	elems int
}

// text is the value as a condition compares it: a string unquoted, a number
// as written, true or false, an object or array as its JSON text.
func (v jsonValue) text() string {
	if v.kind != jString {
		return string(v.raw)
	}
	inner := v.raw[1 : len(v.raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(v.raw, &s); err != nil {
		return string(inner)
	}
	return s
}

// length is what len() gives: an array's element count, a string's bytes
// (unquoted), the length of anything else's text.
func (v jsonValue) length() int {
	if v.kind == jArray {
		return v.elems
	}
	return len(v.text())
}

// node is one step of the trie of every JSON path a Set reads, so that one
// pass over the body finds them all.
type node struct {
	seg      segment
	children []*node
	target   int // index into the scan's values, -1 when no path ends here
}

// child returns n's child for seg, adding it when add is set.
func (n *node) child(seg segment, add bool) *node {
	for _, c := range n.children {
		if c.seg == seg {
			return c
		}
	}
	if !add {
		return nil
	}
	c := &node{seg: seg, target: -1}
	n.children = append(n.children, c)
	return c
}

// keyChild returns the child for the object key whose quoted text is raw.
func (n *node) keyChild(raw []byte) *node {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			inner = []byte(s)
		}
	}
	for _, c := range n.children {
		if !c.seg.isIdx && c.seg.key == string(inner) {
			return c
		}
	}
	return nil
}

// indexChild returns the child for array index i.
func (n *node) indexChild(i int) *node {
	for _, c := range n.children {
		if c.seg.isIdx && c.seg.index == i {
			return c
		}
	}
	return nil
}

// scanner walks a body once, descending only where a path leads, skipping
// everything else, and stopping as soon as every path is found. It checks
// the JSON it reads; what it skips is checked only for balanced brackets
// and closed strings. Nothing it does grows with the body but the stack of
// open brackets while skipping (bounded by the body, which the prober caps).
type scanner struct {
	b         []byte
	i         int
	vals      []jsonValue
	remaining int
	stop      bool
	errAt     int // byte offset of the first syntax error, -1 when none
	stack     []byte
}

// scanJSON finds the value at every target of root in body.
func scanJSON(root *node, targets int, body []byte) (vals []jsonValue, errAt int) {
	s := &scanner{b: body, vals: make([]jsonValue, targets), remaining: targets, errAt: -1}
	s.walk(root)
	return s.vals, s.errAt
}

func (s *scanner) fail() {
	if s.errAt < 0 {
		s.errAt = s.i
	}
}

func (s *scanner) done() bool { return s.stop || s.errAt >= 0 }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// walk reads the value at s.i, descending into it for n's children.
func (s *scanner) walk(n *node) {
	if s.done() {
		return
	}
	s.ws()
	if s.i >= len(s.b) {
		s.fail()
		return
	}
	start := s.i
	var kind jsonKind
	elems := 0
	switch c := s.b[s.i]; {
	case len(n.children) > 0 && c == '{':
		kind = jObject
		s.object(n)
	case len(n.children) > 0 && c == '[':
		kind = jArray
		elems = s.array(n)
	default:
		kind, elems = s.skip()
	}
	if n.target >= 0 && !s.done() && s.vals[n.target].kind == jNone {
		s.vals[n.target] = jsonValue{kind: kind, raw: s.b[start:s.i], elems: elems}
		s.remaining--
		s.stop = s.remaining == 0
	}
}

// object reads an object, walking the members n has children for.
func (s *scanner) object(n *node) {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return
	}
	for !s.done() {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.fail()
			return
		}
		k := s.i
		s.skipString()
		key := s.b[k:s.i]
		s.ws()
		if s.done() || s.i >= len(s.b) || s.b[s.i] != ':' {
			s.fail()
			return
		}
		s.i++
		if c := n.keyChild(key); c != nil {
			s.walk(c)
		} else {
			s.ws()
			s.skip()
		}
		if !s.next('}') {
			return
		}
	}
}

// array reads an array, walking the elements n has children for, and
// returns its element count.
func (s *scanner) array(n *node) int {
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return 0
	}
	i := 0
	for !s.done() {
		if c := n.indexChild(i); c != nil {
			s.walk(c)
		} else {
			s.ws()
			s.skip()
		}
		i++
		if !s.next(']') {
			break
		}
	}
	return i
}

// next reads the separator after a member: true after a comma (another
// member follows), false after the closer or on an error.
func (s *scanner) next(closer byte) bool {
	if s.done() {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		s.fail()
		return false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true
	case closer:
		s.i++
		return false
	}
	s.fail()
	return false
}

// skip reads the value at s.i without looking inside it, returning its kind
// and, for an array, its element count.
func (s *scanner) skip() (jsonKind, int) {
	if s.i >= len(s.b) {
		s.fail()
		return jNone, 0
	}
	switch c := s.b[s.i]; {
	case c == '"':
		s.skipString()
		return jString, 0
	case c == '{':
		s.skipNested()
		return jObject, 0
	case c == '[':
		return jArray, s.skipNested()
	case c == 't':
		return s.literal("true", jBool), 0
	case c == 'f':
		return s.literal("false", jBool), 0
	case c == 'n':
		return s.literal("null", jNull), 0
	case c == '-' || c >= '0' && c <= '9':
		return s.number(), 0
	}
	s.fail()
	return jNone, 0
}

func (s *scanner) literal(word string, kind jsonKind) jsonKind {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.fail()
		return jNone
	}
	s.i += len(word)
	return kind
}

func (s *scanner) number() jsonKind {
	start := s.i
	for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
		s.i++
	}
	if _, ok := parseDecimal(string(s.b[start:s.i])); !ok {
		s.i = start
		s.fail()
		return jNone
	}
	return jNumber
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// skipString moves past the string starting at s.i.
func (s *scanner) skipString() {
	j := s.i + 1
	for {
		q := bytes.IndexByte(s.b[j:], '"')
		if q < 0 {
			s.i = len(s.b)
			s.fail()
			return
		}
		j += q
		bs := 0
		for k := j - 1; k > s.i && s.b[k] == '\\'; k-- {
			bs++
		}
		j++
		if bs%2 == 0 {
			s.i = j
			return
		}
	}
}

// skipNested moves past the object or array starting at s.i, matching
// brackets, and returns the number of its direct elements (for an array).
func (s *scanner) skipNested() int {
	stack := append(s.stack[:0], closerOf(s.b[s.i]))
	s.i++
	elems, empty := 0, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		if !isStructural(c) {
			if empty && len(stack) == 1 && !isSpace(c) {
				empty = false
			}
			s.i++
			continue
		}
		if len(stack) == 1 && c != ']' && c != '}' {
			empty = false
		}
		switch c {
		case '"':
			s.skipString()
			continue
		case '{', '[':
			if len(stack) >= maxDepth {
				s.fail()
				return 0
			}
			stack = append(stack, closerOf(c))
		case '}', ']':
			if c != stack[len(stack)-1] {
				s.fail()
				return 0
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				s.i++
				s.stack = stack
				if empty {
					return 0
				}
				return elems + 1
			}
		case ',':
			if len(stack) == 1 {
				elems++
			}
		}
		s.i++
	}
	s.fail()
	return 0
}

// isStructural tells the bytes skipNested must look at.
func isStructural(c byte) bool {
	switch c {
	case '"', '{', '}', '[', ']', ',':
		return true
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func closerOf(c byte) byte {
	if c == '{' {
		return '}'
	}
	return ']'
}

// errText says why a path found nothing.
func errText(errAt int, body []byte) string {
	switch {
	case errAt < 0:
		return "no such value"
	case errAt >= len(body):
		return "body is not JSON (it ends early, at byte " + strconv.Itoa(len(body)) + ")"
	}
	return "body is not JSON (at byte " + strconv.Itoa(errAt) + ")"
}
