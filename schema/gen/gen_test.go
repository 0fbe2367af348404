package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestExpectedGenUpToDate regenerates schema/expected_gen.go from
// schema.sql, in memory, and fails when the committed file differs: after a
// change of schema.sql, run make generate and commit the result.
func TestExpectedGenUpToDate(t *testing.T) {
	admin := testenv.Var(t, adminVar)
	script, err := os.ReadFile("../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../expected_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := Generate(ctx, admin, string(script))
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if string(got) == string(committed) {
		return
	}
	t.Errorf("schema/expected_gen.go is not what schema.sql generates; run: make generate (and commit it)\n%s",
		firstDifference(string(committed), string(got)))
}

// firstDifference shows the first line where the committed file and the
// generated one differ.
func firstDifference(committed, generated string) string {
	a, b := strings.Split(committed, "\n"), strings.Split(generated, "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("first difference at line %d:\n  committed: %s\n  generated: %s", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "the files differ"
}
