package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestCLIPrivateSites: sites add --private, sites update --private and
// --public, and sites list showing the visibility (text and JSON); bad
// input gets one line and changes nothing.
func TestCLIPrivateSites(t *testing.T) {
	env := migratedDB(t)
	pub := addSite(t, env, "http://127.0.0.1:1/public")
	priv := addSite(t, env, "http://127.0.0.1:1/private", "--private")

	visibility := func(step string, want map[int64]string) {
		t.Helper()
		out, _ := mustRun(t, env, exitOK, "sites", "list")
		if !strings.Contains(line(t, out, "ID"), "VISIBILITY") {
			t.Errorf("%s: sites list header lacks VISIBILITY:\n%s", step, out)
		}
		for id, v := range want {
			if f := strings.Fields(line(t, out, "/"+map[int64]string{pub: "public", priv: "private"}[id])); f[len(f)-1] != v {
				t.Errorf("%s: sites list shows site %d as %q, want %s:\n%s", step, id, f[len(f)-1], v, out)
			}
		}
		js, _ := mustRun(t, env, exitOK, "sites", "list", "--json")
		var sites []struct {
			ID     int64 `json:"id"`
			Public *bool `json:"public"`
		}
		if err := json.Unmarshal([]byte(js), &sites); err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			if s.Public == nil || *s.Public != (want[s.ID] == "public") {
				t.Errorf("%s: sites list --json site %d public %v, want %s", step, s.ID, s.Public, want[s.ID])
			}
		}
	}
	visibility("added", map[int64]string{pub: "public", priv: "private"})

	id := func(v int64) string { return strconv.FormatInt(v, 10) }
	mustRun(t, env, exitOK, "sites", "update", id(pub), "--private")
	mustRun(t, env, exitOK, "sites", "update", id(priv), "--public")
	visibility("updated", map[int64]string{pub: "private", priv: "public"})

	_, stderr := mustRun(t, env, exitUsage, "sites", "update", id(pub), "--private", "--public")
	if !strings.Contains(stderr, "--private and --public") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("update --private --public: stderr %q, want one line naming both", stderr)
	}
	visibility("after refused input", map[int64]string{pub: "private", priv: "public"})
}
