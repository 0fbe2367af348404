package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the module's top folder, seen from this test's package.
const moduleRoot = "."

// TestLayout (issue 19 item 1): package main holds main() and the embedding
// of schema.sql only; every long-running job of a role lives in a package
// named for it, with Run(ctx) error, an Options struct, no package-level
// state and no import of the CLI package.
func TestLayout(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(moduleRoot, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var prod []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			prod = append(prod, filepath.Base(f))
		}
	}
	if want := []string{"main.go", "schema.go"}; !slices.Equal(prod, want) {
		t.Errorf("package main has %v, want %v", prod, want)
	}
	for _, pkg := range []string{"sitespub", "heartbeat", "sitefeed", "prune", "rollup"} {
		t.Run(pkg, func(t *testing.T) { checkJobPackage(t, filepath.Join(moduleRoot, pkg)) })
	}
}

// checkJobPackage checks one job package: it exists, imports neither cli
// nor the root, keeps no state in package variables, and has an Options
// type and at least one Run(ctx context.Context) error method.
func checkJobPackage(t *testing.T, dir string) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(names) == 0 {
		t.Fatalf("package %s: no Go files (%v)", dir, err)
	}
	fset := token.NewFileSet()
	var hasOptions, hasRun bool
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			if path := strings.Trim(imp.Path.Value, `"`); path == module+"cli" || path == strings.TrimSuffix(module, "/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				hasOptions = hasOptions || declaresType(d, "Options")
				if d.Tok == token.VAR {
					for _, s := range d.Specs {
						for _, n := range s.(*ast.ValueSpec).Names {
							if n.Name != "_" {
								t.Errorf("%s: package-level variable %s", name, n.Name)
							}
						}
					}
				}
			case *ast.FuncDecl:
				hasRun = hasRun || isRun(d)
			}
		}
	}
	if !hasOptions {
		t.Errorf("%s has no Options type", dir)
	}
	if !hasRun {
		t.Errorf("%s has no method Run(ctx context.Context) error", dir)
	}
}

func declaresType(d *ast.GenDecl, name string) bool {
	for _, s := range d.Specs {
		if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == name {
			return true
		}
	}
	return false
}

// isRun reports whether d is a method Run(ctx context.Context) error.
func isRun(d *ast.FuncDecl) bool {
	if d.Recv == nil || d.Name.Name != "Run" {
		return false
	}
	ps, rs := d.Type.Params.List, d.Type.Results
	if len(ps) != 1 || len(ps[0].Names) != 1 || rs == nil || len(rs.List) != 1 {
		return false
	}
	sel, ok := ps[0].Type.(*ast.SelectorExpr)
	res, ok2 := rs.List[0].Type.(*ast.Ident)
	return ok && ok2 && sel.Sel.Name == "Context" && res.Name == "error"
}

const module = "github.com/sitestat/sitestat/"

// goList returns, for every package of the module (scripts, tests and
// test helpers aside), the packages of the module it imports directly, and
// all those it depends on.
func goList(t *testing.T) (imports, deps map[string][]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	ours := func(list string) []string {
		var pkgs []string
		for _, p := range strings.Fields(list) {
			if strings.HasPrefix(p, module) {
				pkgs = append(pkgs, strings.TrimPrefix(p, module))
			}
		}
		slices.Sort(pkgs)
		return pkgs
	}
	imports, deps = map[string][]string{}, map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		pkg := strings.TrimPrefix(f[0], module)
		if pkg == f[0] || strings.HasPrefix(pkg, "scripts/") || strings.HasPrefix(pkg, "testutil/") {
			continue
		}
		imports[pkg], deps[pkg] = ours(f[1]), ours(f[2])
	}
	return imports, deps
}

// TestDependencies (issue 19 items 2, 3): the contract is a leaf, only the
// CLI uses the prober, kafka moves records without knowing what they hold,
// and nothing but main imports the CLI.
func TestDependencies(t *testing.T) {
	imports, deps := goList(t)
	if got := deps["contract"]; len(got) != 0 {
		t.Errorf("contract depends on %v, want no package of the module", got)
	}
	for pkg, d := range deps {
		if pkg != "cli" && slices.Contains(imports[pkg], "checker") {
			t.Errorf("%s imports checker; only cli may", pkg)
		}
		if slices.Contains(d, "cli") {
			t.Errorf("%s depends on cli", pkg)
		}
	}
	for _, p := range []string{"checker", "contract", "sink", "deadletter", "store"} {
		if slices.Contains(deps["kafka"], p) {
			t.Errorf("kafka depends on %s; it moves records only", p)
		}
	}
}

// TestReadmeDrawsTheLayout: every row of the README's package table names,
// in its last column, exactly the packages of the module that package
// imports (go list), so the drawing a newcomer reads is the code.
func TestReadmeDrawsTheLayout(t *testing.T) {
	imports, _ := goList(t)
	b, err := os.ReadFile(filepath.Join(moduleRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "### The code\n")
	if start < 0 {
		t.Fatal(`README.md has no "### The code" section`)
	}
	section := readme[start:]
	section = section[:strings.Index(section[4:], "\n### ")+4]
	row := regexp.MustCompile("(?m)^\\| `([a-z/]+)` \\|.*\\| ([^|]*) \\|$")
	name := regexp.MustCompile("`([a-z/]+)`")
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		pkg := m[1]
		want, ok := imports[pkg]
		if !ok {
			continue // a "looking for" row, or a package go list does not build
		}
		seen[pkg] = true
		var got []string
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			if _, isPkg := imports[n[1]]; isPkg {
				got = append(got, n[1])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("README row %s says it imports %v; go list says %v", pkg, got, want)
		}
	}
	for pkg := range imports {
		if !seen[pkg] && pkg != "" && !strings.Contains(pkg, "/gen") && pkg != "e2e" {
			t.Errorf("README's package table has no row for %s", pkg)
		}
	}
}
