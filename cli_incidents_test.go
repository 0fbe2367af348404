package main

import (
	"strconv"
	"testing"
)

// TestCLISiteThresholds: sites add|update --alert-after --recover-after set
// the per-site overrides (0 turns alerting off); out-of-range values are
// usage errors; an update of other settings keeps them.
func TestCLISiteThresholds(t *testing.T) {
	env := migratedDB(t)
	id := addSite(t, env, "http://127.0.0.1:1/t", "--alert-after", "0")
	db := openStore(t, env)
	thresholds := func() string {
		t.Helper()
		var a, r *int64
		if err := db.SQL().QueryRow("SELECT alert_after, recover_after FROM websites WHERE id = $1", id).Scan(&a, &r); err != nil {
			t.Fatal(err)
		}
		str := func(v *int64) string {
			if v == nil {
				return "default"
			}
			return strconv.FormatInt(*v, 10)
		}
		return str(a) + " " + str(r)
	}
	if got, want := thresholds(), "0 default"; got != want {
		t.Errorf("after add --alert-after 0: %s, want %s", got, want)
	}
	sid := strconv.FormatInt(id, 10)
	mustRun(t, env, exitOK, "sites", "update", sid, "--alert-after", "5", "--recover-after", "4")
	mustRun(t, env, exitOK, "sites", "update", sid, "--interval", "30")
	if got, want := thresholds(), "5 4"; got != want {
		t.Errorf("after update: %s, want %s", got, want)
	}
	mustRun(t, env, exitUsage, "sites", "update", sid, "--recover-after", "0")
	mustRun(t, env, exitUsage, "sites", "add", "http://127.0.0.1:1/u", "--alert-after", "-1")
	if got, want := thresholds(), "5 4"; got != want {
		t.Errorf("after refused updates: %s, want %s", got, want)
	}
}
