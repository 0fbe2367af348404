package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
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
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("package %s: %v (%d packages)", dir, err, len(pkgs))
	}
	var hasOptions, hasRun bool
	for _, p := range pkgs {
		for name, f := range p.Files {
			for _, imp := range f.Imports {
				if path := strings.Trim(imp.Path.Value, `"`); path == "github.com/sitestat/sitestat/cli" || path == "github.com/sitestat/sitestat" {
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
