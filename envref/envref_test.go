package envref

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

func env(vars map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{
		"TOKEN": "s3cret", "HOST": "api.example.com", "EMPTY": "",
		"TRICK": "${env:TOKEN}", // a value is never expanded again
	})
	tests := []struct{ in, want string }{
		{"https://example.com/health", "https://example.com/health"},
		{"Bearer ${env:TOKEN}", "Bearer s3cret"},
		{"https://${env:HOST}/v1?k=${env:TOKEN}", "https://api.example.com/v1?k=s3cret"},
		{"${env:MISSING:-fallback}", "fallback"},
		{"${env:MISSING:-}", ""},
		{"${env:EMPTY:-fallback}", "fallback"},
		{"${env:EMPTY}", ""},
		{"${env:MISSING:-${env:HOST}}", "api.example.com"},
		{"${env:MISSING:-${env:ALSO_MISSING:-https://x/${env:HOST}}}", "https://x/api.example.com"},
		{"${env:MISSING:-a}b}", "ab}"},
		{"${env:TRICK}", "${env:TOKEN}"},
		{"${HOST} and ${other:x} stay", "${HOST} and ${other:x} stay"},
		{"${env:MISSING:-{json}}", "{json}"},
		{"$${env:HOST}", "$api.example.com"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, lookup)
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	lookup := env(map[string]string{"TOKEN": "s3cret"})
	tests := []struct{ in, msg string }{
		{"Bearer ${env:MISSING}", "environment variable MISSING is not set"},
		{"${env:TOKEN}${env:MISSING:-${env:NOPE}}", "environment variable NOPE is not set"},
		{"${env:TOKEN", "unclosed ${env:"},
		{"${env:}", "bad variable name"},
		{"${env:1X}", "bad variable name"},
		{"${env:A-B}", "bad variable name"},
		{"${env:TOKEN:=x}", "bad variable name"},
		{"${env:A:-" + strings.Repeat("${env:A:-", 9) + "x" + strings.Repeat("}", 10), "nested deeper than 8"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, lookup)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Expand(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.msg)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || got != "" {
			t.Errorf("Expand(%q): the error %q or the result %q shows a value", tt.in, err, got)
		}
		if cerr := Check(tt.in); (cerr == nil) != strings.Contains(tt.msg, "is not set") {
			t.Errorf("Check(%q) = %v", tt.in, cerr)
		}
	}
	var me *MissingError
	if _, err := Expand("${env:MISSING}", lookup); !errors.As(err, &me) || me.Name != "MISSING" {
		t.Errorf("a missing variable is not a *MissingError naming it: %v", err)
	}
}

// TestNoReferenceNoCost: text without a reference comes back as the same
// string, without allocating and without calling lookup.
func TestNoReferenceNoCost(t *testing.T) {
	s := strings.Repeat("https://example.com/a?b=c&d=$e{f}", 10)
	calls := 0
	lookup := func(string) (string, bool) { calls++; return "", false }
	allocs := testing.AllocsPerRun(100, func() {
		got, err := Expand(s, lookup)
		if err != nil || unsafe.StringData(got) != unsafe.StringData(s) {
			t.Fatalf("Expand changed text without references: %q, %v", got, err)
		}
	})
	if allocs != 0 || calls != 0 {
		t.Fatalf("%v allocations and %d lookups for text without references", allocs, calls)
	}
}
