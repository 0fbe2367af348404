package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
)

// TestCLIPruneAndRollup: `prune --dry-run` lists the old partition and
// changes nothing, `prune` drops it, and `rollup --rebuild` recomputes the
// rollups of the raw rows left.
func TestCLIPruneAndRollup(t *testing.T) {
	env := migratedDB(t)
	env["SITESTAT_RETENTION_RAW"] = "3d"
	id := addSite(t, env, "http://127.0.0.1:1/")
	db := openStore(t, env)
	now := time.Now().UTC()
	old := now.Add(-5 * 24 * time.Hour)
	insertResults(t, db, result(id, old, checker.ReasonOK, 200), result(id, now, checker.ReasonHTTPStatus, 503))
	oldPart := "website_status_" + old.Format("20060102")

	out, _ := mustRun(t, env, exitOK, "prune", "--dry-run")
	if !strings.Contains(line(t, out, oldPart), "would drop partition") || !strings.Contains(out, "dry run: nothing was changed") {
		t.Errorf("prune --dry-run printed:\n%s", out)
	}
	count := func() int {
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM website_status").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("after the dry run %d rows, want 2", n)
	}
	out, _ = mustRun(t, env, exitOK, "prune")
	if !strings.Contains(line(t, out, oldPart), "dropped partition") {
		t.Errorf("prune printed:\n%s", out)
	}
	if n := count(); n != 1 {
		t.Errorf("after prune %d rows, want 1", n)
	}

	if _, err := db.SQL().Exec("TRUNCATE website_status_hourly"); err != nil {
		t.Fatal(err)
	}
	out, _ = mustRun(t, env, exitOK, "rollup", "--rebuild", "--since", now.Add(-24*time.Hour).Format("2006-01-02"))
	if !strings.Contains(out, "from 1 raw rows") {
		t.Errorf("rollup --rebuild printed %q", out)
	}
	var checks int
	if err := db.SQL().QueryRow("SELECT coalesce(sum(checks), 0) FROM website_status_hourly").Scan(&checks); err != nil || checks != 1 {
		t.Errorf("hourly checks after the rebuild = %d, %v; want 1", checks, err)
	}
	mustRun(t, env, exitUsage, "rollup")
}
