package condition

import (
	"fmt"
	"strings"
)

// Set is the conditions of one check, compiled once (when the site is
// loaded) and evaluated for every check. Every JSON path of every condition
// is read in one pass over the body, and only when some condition needs it.
// A Set is safe for concurrent use.
type Set struct {
	conds   []Condition
	idx     [][2]int // per condition, left and right: index of its JSON value, -1 for none
	root    *node    // the trie of JSON paths; nil when no condition reads one
	targets int
}

// NewSet returns the Set of conds, in their order.
func NewSet(conds ...Condition) *Set {
	s := &Set{conds: conds, idx: make([][2]int, len(conds))}
	keys := map[string]int{}
	for i := range conds {
		for side, o := range [2]*operand{&conds[i].left, &conds[i].right} {
			s.idx[i][side] = s.addPath(o, keys)
		}
	}
	return s
}

// ParseSet parses each expression and returns their Set; the error names
// the condition by its 1-based number: "condition 2: position 9: …".
func ParseSet(exprs []string) (*Set, error) {
	conds := make([]Condition, len(exprs))
	for i, e := range exprs {
		c, err := Parse(e)
		if err != nil {
			return nil, fmt.Errorf("condition %d: %w", i+1, err)
		}
		conds[i] = c
	}
	return NewSet(conds...), nil
}

// Len returns the number of conditions.
func (s *Set) Len() int { return len(s.conds) }

// ReadsBody reports whether some condition looks at the body, so the
// prober knows to keep it.
func (s *Set) ReadsBody() bool {
	for _, c := range s.conds {
		if c.left.ph == phBody || c.right.ph == phBody {
			return true
		}
	}
	return false
}

// addPath registers o's JSON path (len([BODY]) counts as the empty path)
// and returns its value index, or -1.
func (s *Set) addPath(o *operand, keys map[string]int) int {
	if o.ph != phBody || (!o.hasPath && o.fn != fnLen) {
		return -1
	}
	key := pathString(o.path)
	if i, ok := keys[key]; ok {
		return i
	}
	if s.root == nil {
		s.root = &node{target: -1}
	}
	n := s.root
	for _, seg := range o.path {
		n = n.child(seg, true)
	}
	n.target = s.targets
	keys[key] = s.targets
	s.targets++
	return n.target
}

// evaluation is the state of one Evaluate: the body read at most once.
type evaluation struct {
	set     *Set
	in      *Input
	trimmed *string
	vals    []jsonValue
	errAt   int
	scanned bool
	scans   int // passes over the body, for the test that there is at most one
}

func (ev *evaluation) trimmedBody() string {
	if ev.trimmed == nil {
		t := strings.TrimSpace(string(ev.in.Body))
		ev.trimmed = &t
	}
	return *ev.trimmed
}

// json returns the value at JSON path i, scanning the body on first use.
func (ev *evaluation) json(i int) (jsonValue, string) {
	if !ev.scanned {
		ev.vals, ev.errAt = scanJSON(ev.set.root, ev.set.targets, ev.in.Body)
		ev.scanned = true
		ev.scans++
	}
	return ev.vals[i], errText(ev.errAt, ev.in.Body)
}

// Evaluate checks every condition against in and returns whether all held
// and one Outcome per condition, in order.
func (s *Set) Evaluate(in *Input) (ok bool, outcomes []Outcome) {
	ok, outcomes, _ = s.evaluate(in)
	return ok, outcomes
}

// evaluate is Evaluate, returning its state for tests.
func (s *Set) evaluate(in *Input) (bool, []Outcome, *evaluation) {
	ev := &evaluation{set: s, in: in}
	outcomes := make([]Outcome, len(s.conds))
	ok := true
	for i := range s.conds {
		outcomes[i] = ev.one(&s.conds[i], s.idx[i])
		ok = ok && outcomes[i].Success
	}
	return ok, outcomes, ev
}

// FirstFailure returns the first failed outcome, for a result's error.
func FirstFailure(outcomes []Outcome) (Outcome, bool) {
	for _, o := range outcomes {
		if !o.Success {
			return o, true
		}
	}
	return Outcome{}, false
}

// one evaluates c.
func (ev *evaluation) one(c *Condition, idx [2]int) Outcome {
	out := Outcome{Condition: c.expr}
	if c.op == opNone {
		out.Detail = "empty condition"
		return out
	}
	l := ev.resolve(&c.left, idx[0])
	r := ev.resolve(&c.right, idx[1])
	if c.op.ordering() {
		l, r = l.numeric(), r.numeric()
	}
	if out.Success = compare(c, l, r); !out.Success {
		out.Detail = detail(c, l, r)
	}
	return out
}

// detail writes c with the actual values of its placeholders.
func detail(c *Condition, l, r value) string {
	var b strings.Builder
	side := func(o *operand, v value) {
		b.WriteString(o.text)
		if o.ph != phNone {
			b.WriteString(" (")
			b.WriteString(v.display())
			b.WriteString(")")
		}
	}
	side(&c.left, l)
	b.WriteString(" " + c.op.String() + " ")
	side(&c.right, r)
	return b.String()
}
