package condition

import (
	"bytes"
	"strings"
	"testing"
)

// TestOnePass: N conditions with JSON paths read the body once, and the
// pass stops as soon as every path is found (what follows is not read, so
// it may be anything).
func TestOnePass(t *testing.T) {
	set, err := ParseSet([]string{
		"[BODY].status == UP",
		"[BODY].db.status == ok",
		"len([BODY].items) == 2",
		"has([BODY].errors) == false",
		"[BODY].status != DOWN",
	})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"status":"UP","db":{"status":"ok"},"items":[1,2],"errors":null} and then no JSON at all`
	ok, outs, ev := set.evaluate(&Input{Body: []byte(body)})
	if !ok {
		t.Fatalf("not ok: %+v", outs)
	}
	if ev.scans != 1 {
		t.Fatalf("%d passes over the body, want 1", ev.scans)
	}
	if _, _, ev := NewSet(mustParse(t, "[STATUS] == 200")).evaluate(&Input{Status: 200, Body: []byte(body)}); ev.scans != 0 {
		t.Fatalf("a condition without a JSON path read the body %d times", ev.scans)
	}
}

// TestBoundedBodies: a path into a large body costs one pass and a bounded
// amount of memory, whatever the body holds.
func TestBoundedBodies(t *testing.T) {
	const size = 8 << 20
	tests := []struct {
		name, cond string
		body       []byte
		detail     string
	}{
		{"deep nesting", "[BODY].a == 1", bytes.Repeat([]byte("["), size), "[BODY].a (INVALID: body is not JSON (at byte 10001)) == 1"},
		{"deep nesting in a value", "[BODY].b == 1", append([]byte(`{"a":`), bytes.Repeat([]byte("{"), size)...), "[BODY].b (INVALID: body is not JSON (at byte 10005)) == 1"},
		{"one long string", "[BODY].b == 1", []byte(`{"a":"` + strings.Repeat("x", size) + `","b":2}`), "[BODY].b (2) == 1"},
		{"many members", "[BODY].last == 1", []byte(`{` + strings.Repeat(`"k":[1,{"x":"]"}],`, size/18) + `"last":0}`), "[BODY].last (0) == 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := NewSet(mustParse(t, tt.cond))
			in := &Input{Body: tt.body}
			_, outs := set.Evaluate(in)
			if outs[0].Detail != tt.detail {
				t.Fatalf("detail %q, want %q", outs[0].Detail, tt.detail)
			}
			allocs := testing.AllocsPerRun(3, func() { set.Evaluate(in) })
			if allocs > 40 { // the bracket stack grows to maxDepth at most
				t.Errorf("%v allocations per evaluation of an %d-byte body", allocs, len(tt.body))
			}
		})
	}
}

func mustParse(t testing.TB, expr string) Condition {
	t.Helper()
	c, err := Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
