package condition

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		cond string
		pos  int
		msg  string // a part of the message
	}{
		{"", 1, "empty condition"},
		{"[STATU] == 200", 1, "unknown placeholder [STATU]"},
		{"[STATUS] == [STATU]", 13, "unknown placeholder [STATU]"},
		{"len([STATU]) > 0", 5, "unknown placeholder [STATU]"},
		{"[STATUS]==200", 1, "no operator"},
		{"[STATUS] = 200", 1, "no operator"},
		{"[STATUS] == 200 == 300", 17, "more than one operator"},
		{"[STATUS] < 300 > 200", 16, "more than one operator"},
		{"[STATUS] == ", 13, "missing operand"},
		{" == 200", 1, "missing operand"},
		{"200 == 300", 1, "neither side is a placeholder"},
		{"STATUS == 200", 1, "neither side is a placeholder"},
		{"[RESPONSE_TIME] < potato", 19, `"potato" is not a number or a duration`},
		{"[STATUS] < pat(2*)", 12, "pat() works with == and != only"},
		{"[STATUS] == pat([)", 17, "malformed pattern"},
		{"pat(a*) == any(a, b)", 1, "neither side is a placeholder"},
		{"has([BODY].x) > 0", 1, "not a number or a duration"},
		{"[CONNECTED] < 1", 1, "not a number or a duration"},
		{"len(200) > 1", 1, "len() takes a placeholder"},
		{"[BODY]..a == 1", 8, "empty key"},
		{"[BODY].a[x] == 1", 10, `bad index "x"`},
		{"[BODY].a[-1] == 1", 10, `bad index "-1"`},
		{"[BODY].a[1 == 1", 9, "bad index"},
		{"[BODY]a == 1", 7, "expected . or ["},
		{"[STATUS].x == 1", 9, "unexpected text after [STATUS]"},
		{"[HEADER] == 1", 9, "[HEADER] needs a header name"},
		{"[HEADER].a:b == 1", 9, "[HEADER] needs a header name"},
		{"[DOMAIN_EXPIRATION] > 720h", 1, "no WHOIS"},
		{"[CONTEXT].user == 1", 1, "no suites"},
		{"[STATUS] == ${GATUS_STATUS:=200}", 13, "not expanded in conditions"},
		{"[BODY]" + strings.Repeat(".a", 40) + " == 1", 7, "longer than 32 steps"},
		{strings.Repeat("x", MaxLen+1), MaxLen + 1, "longer than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := Parse(tt.cond)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tt.cond, err)
			}
			if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Parse(%q) = %q, want position %d and %q", tt.cond, err, tt.pos, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "position ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line starting with its position", err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, cond := range []string{
		"[STATUS] == 200",
		"  [STATUS]   ==   200  ",
		"[BODY] == pat(*a == b*)", // an operator inside pat() is text
		"[BODY] == pat(*(*)",      // an unbalanced parenthesis too
		"pat(*(*) == [BODY]",
		"[BODY] == [1,2]", // brackets that are not a name: a literal
		"[BODY][0][1].a == x",
		"[Body].status == UP",
		"[RESPONSE_TIME] <= 1.5s",
		"[BODY].n >= -0.5e-3",
		"[STATUS] != 500",
		"[HEADER].X-Request-Id != 0",
	} {
		c, err := Parse(cond)
		if err != nil {
			t.Errorf("Parse(%q): %v", cond, err)
			continue
		}
		if c.String() != cond {
			t.Errorf("String() = %q, want %q", c.String(), cond)
		}
	}
}

func TestParseSetNamesTheCondition(t *testing.T) {
	_, err := ParseSet([]string{"[STATUS] == 200", "[STATU] == 200"})
	var se *SyntaxError
	if err == nil || !errors.As(err, &se) || err.Error() != "condition 2: position 1: unknown placeholder [STATU]" {
		t.Fatalf("ParseSet: %v", err)
	}
}

// TestZeroCondition: a zero Condition fails rather than panicking.
func TestZeroCondition(t *testing.T) {
	ok, outs := NewSet(Condition{}).Evaluate(&Input{})
	if ok || outs[0].Success || outs[0].Detail == "" {
		t.Fatalf("zero condition: ok=%v %+v", ok, outs)
	}
}
