package statuscode

import (
	"strings"
	"testing"
)

func TestParseAndMatch(t *testing.T) {
	tests := []struct {
		list   string
		match  []int
		reject []int
		str    string
	}{
		{"200", []int{200}, []int{201, 199, 0}, "200"},
		{"2xx", []int{200, 250, 299}, []int{199, 300, 0}, "2xx"},
		{"2XX", []int{204}, []int{304}, "2xx"},
		{"200-299", []int{200, 299}, []int{300}, "200-299"},
		{"200,2xx,200-299", []int{200, 204}, []int{300}, "200,2xx,200-299"},
		{" 200 , 429 ", []int{200, 429}, []int{201, 430}, "200,429"},
		{"1xx,5xx", []int{101, 503}, []int{200, 404}, "1xx,5xx"},
		{"301-302,404", []int{301, 302, 404}, []int{300, 303, 403}, "301-302,404"},
		{"100-599", []int{100, 599}, []int{99, 600}, "100-599"},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			set, err := Parse(tt.list)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.list, err)
			}
			for _, c := range tt.match {
				if !set.Match(c) {
					t.Errorf("%q does not match %d", tt.list, c)
				}
			}
			for _, c := range tt.reject {
				if set.Match(c) {
					t.Errorf("%q matches %d", tt.list, c)
				}
			}
			if got := set.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ list, msg string }{
		{"", "empty"},
		{" , ", `"": want a code`},
		{"200,", `"": want a code`},
		{"2x", `"2x": want a code (200), a class (2xx) or a range (200-299)`},
		{"abc", `"abc": want a code`},
		{"99", `"99": a status code is from 100 to 599`},
		{"600", `"600": a status code is from 100 to 599`},
		{"6xx", `"6xx": a class is 1xx to 5xx`},
		{"0xx", `"0xx": a class is 1xx to 5xx`},
		{"299-200", `"299-200": the range ends before it starts`},
		{"200-", `"200-": want a code`},
		{"-200", `"-200": want a code`},
		{"200-700", `"200-700": a status code is from 100 to 599`},
		{"+200", `"+200": want a code`},
		{"2００", `want a code`},
		{strings.Repeat("200,", 40) + "200", "more than 32 items"},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			_, err := Parse(tt.list)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Parse(%q) = %v, want %q", tt.list, err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "expect_status: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one expect_status line", err)
			}
		})
	}
}

// TestDefault: today's rule stays the default. Following redirects, the
// final status must be 2xx (a 3xx was followed; one that is still final is
// down, as today). A check told not to follow takes a 3xx as its answer.
func TestDefault(t *testing.T) {
	tests := []struct {
		follow bool
		code   int
		want   bool
	}{
		{true, 200, true}, {true, 299, true}, {true, 301, false}, {true, 304, false}, {true, 404, false}, {true, 199, false},
		{false, 200, true}, {false, 301, true}, {false, 308, true}, {false, 399, true}, {false, 400, false}, {false, 500, false},
	}
	for _, tt := range tests {
		if got := Default(tt.follow).Match(tt.code); got != tt.want {
			t.Errorf("Default(follow=%v).Match(%d) = %v, want %v", tt.follow, tt.code, got, tt.want)
		}
	}
	if (Set{}).Match(200) {
		t.Error("the zero Set matches 200")
	}
}
