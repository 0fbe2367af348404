package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTerminal(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "https://example.com/a?b=c", "https://example.com/a?b=c"},
		{"non-ASCII letters kept", "https://bücher.example/日本", "https://bücher.example/日本"},
		{"CSI clear screen", "x\x1b[2Jy", `x\x1b[2Jy`},
		{"OSC title with BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"newline and tab", "a\nb\tc\r", `a\nb\tc\r`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI as UTF-8", "a\u009b31mb", `a\u009b31mb`},
		{"raw 0x9b byte", "a\x9b31mb", `a\x9b31mb`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"bidi override", "abc\u202edef", `abc\u202edef`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Terminal(tt.in)
			if got != tt.want {
				t.Errorf("Terminal(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e {
					t.Errorf("Terminal(%q) = %q still holds %U", tt.in, got, r)
				}
			}
			if !utf8.ValidString(got) {
				t.Errorf("Terminal(%q) = %q is not valid UTF-8", tt.in, got)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 10, "hello"},
		{"hello world", 5, "hell…"},
		{"héllo wörld", 5, "héll…"},
		{"日本語テキスト", 7, "日本語テキスト"}, // 7 characters, 21 bytes: not cut
		{"日本語テキストです", 7, "日本語テキス…"},
		{"ééé", 1, "…"},
		{"abc", 0, ""},
		{"a\xffbcdef", 4, "a\xffb…"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if c := utf8.RuneCountInString(got); c > max(tt.n, 0) {
			t.Errorf("Truncate(%q, %d) = %q has %d characters", tt.in, tt.n, got, c)
		}
		if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q cut a character", tt.in, tt.n, got)
		}
	}
	// Long multi-byte input, every length.
	s := strings.Repeat("€", 50)
	for n := 1; n < 60; n++ {
		if got := Truncate(s, n); !utf8.ValidString(got) || utf8.RuneCountInString(got) != min(n, 50) {
			t.Fatalf("Truncate(50×€, %d) = %q (%d characters)", n, got, utf8.RuneCountInString(got))
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{" a\nb\n", "a; b"},
	} {
		if got := OneLine(tt.in); got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
