package contract_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sitestat/sitestat/"

// deps returns the packages of this module that pkg depends on (itself
// excluded), as `go list -deps` reports them for a build, tests aside.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var ours []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module) && p != module+pkg {
			ours = append(ours, strings.TrimPrefix(p, module))
		}
	}
	return ours
}

// TestLayout pins the package layout the README's "The code" section draws:
// the contract is a leaf (it imports nothing of ours), only the CLI uses the
// prober, and kafka moves records without knowing what is in them.
func TestLayout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	if got := deps(t, "contract"); len(got) != 0 {
		t.Errorf("contract depends on %v, want no package of the project", got)
	}
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"store", []string{"checker"}},
		{"sink", []string{"checker"}},
		{"web", []string{"checker"}},
		{"siteset", []string{"checker"}},
		{"notify", []string{"checker"}},
		{"kafka", []string{"checker", "contract", "sink", "deadletter"}},
		{"deadletter", []string{"checker", "contract", "sink", "store"}},
	} {
		got := deps(t, tc.pkg)
		for _, f := range tc.forbidden {
			if slices.Contains(got, f) {
				t.Errorf("%s depends on %s; want it not to (its dependencies: %v)", tc.pkg, f, got)
			}
		}
	}
}
