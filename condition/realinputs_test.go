package condition

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// realInputs holds Gatus configurations written by other people (see its
// README). They are read where they are, never copied into the project.
const realInputs = "/work/shared/realinputs/gatus"

// cannotParse lists the conditions of the real configurations that are
// refused on purpose, with the reason.
func cannotParse() map[string]string {
	return map[string]string{
		"[DOMAIN_EXPIRATION] > 720h":       "sitestat does no WHOIS lookups",
		"[STATUS] == ${GATUS_STATUS:=200}": "Flux substitutes ${…} before Gatus reads the file; write the value",
	}
}

// TestRealConfigurations parses every condition of every real Gatus
// configuration: each parses, or is listed in cannotParse and refused.
func TestRealConfigurations(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(realInputs, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no real configurations in %s", realInputs)
	}
	refused := cannotParse()
	total := 0
	for _, f := range files {
		for _, c := range yamlConditions(t, f) {
			total++
			_, err := Parse(c.text)
			why, listed := refused[c.text]
			switch {
			case err != nil && !listed:
				t.Errorf("%s:%d: %q: %v", filepath.Base(f), c.line, c.text, err)
			case err == nil && listed:
				t.Errorf("%s:%d: %q parses, but is listed as refused (%s)", filepath.Base(f), c.line, c.text, why)
			}
		}
	}
	if total < 50 {
		t.Fatalf("found only %d conditions in %s; the extractor is broken", total, realInputs)
	}
	t.Logf("%d conditions in %d files", total, len(files))
}

type yamlCondition struct {
	text string
	line int
}

// yamlConditions returns the items of every sequence under a key named
// conditions (or ending in -conditions, as in YAML anchors such as
// x-defaults-conditions). Only what these files use is understood: block
// sequences of quoted or plain scalars, with # comments.
func yamlConditions(t *testing.T, path string) []yamlCondition {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []yamlCondition
	inList, keyIndent := false, 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if inList && strings.HasPrefix(trimmed, "- ") && indent >= keyIndent {
			out = append(out, yamlCondition{text: yamlScalar(t, trimmed[2:]), line: n})
			continue
		}
		inList = false
		key, rest, ok := strings.Cut(strings.TrimPrefix(trimmed, "- "), ":")
		rest = strings.TrimSpace(rest)
		if ok && (key == "conditions" || strings.HasSuffix(key, "-conditions")) && (rest == "" || strings.HasPrefix(rest, "&")) {
			inList, keyIndent = true, indent
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// yamlScalar reads a double-quoted, single-quoted or plain scalar, dropping
// a trailing comment.
func yamlScalar(t *testing.T, s string) string {
	t.Helper()
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, `"`):
		end := closingQuote(s)
		v, err := strconv.Unquote(s[:end+1])
		if err != nil {
			t.Fatalf("unquote %s: %v", s, err)
		}
		return v
	case strings.HasPrefix(s, "'"):
		end := strings.Index(s[1:], "'") + 1
		return s[1:end]
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// closingQuote returns the index of the quote closing the string s opens.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(s) - 1
}
