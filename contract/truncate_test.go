package contract

import (
	"strings"
	"testing"

	"github.com/sitestat/sitestat/internal/text"
)

// TestTruncateText: the contract's copy of text.Truncate cuts as the
// original does (a test may import what the contract itself must not).
func TestTruncateText(t *testing.T) {
	for _, s := range []string{"", "a", "abc", "héllo wörld", strings.Repeat("é", 300), "a\xffb\xfe" + strings.Repeat("x", 50), "日本語のテキスト"} {
		for _, n := range []int{-1, 0, 1, 2, 3, 5, 10, 240} {
			if got, want := truncateText(s, n), text.Truncate(s, n); got != want {
				t.Errorf("truncateText(%q, %d) = %q, want %q as text.Truncate", s, n, got, want)
			}
		}
	}
	if text.Ellipsis != ellipsis {
		t.Errorf("ellipsis = %q, text.Ellipsis = %q", ellipsis, text.Ellipsis)
	}
}
