package cli

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/contract"
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
	insertResults(t, db, result(id, old, contract.ReasonOK, 200), result(id, now, contract.ReasonHTTPStatus, 503))
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

// TestCLIStatusDetail: `status ID` shows the site, its probes, the windows,
// a 90-character strip and its failed checks; --json carries the same; an
// unknown id is a usage error; --window takes days.
func TestCLIStatusDetail(t *testing.T) {
	env := migratedDB(t)
	id := addSite(t, env, "http://127.0.0.1:1/detail", "--regex", "ok")
	now := time.Now()
	db := openStore(t, env)
	eu := result(id, now.Add(-10*time.Second), contract.ReasonHTTPStatus, 503)
	eu.Probe = "eu"
	us := result(id, now.Add(-5*time.Second), contract.ReasonOK, 200)
	us.Probe = "us"
	old := result(id, now.Add(-3*24*time.Hour), contract.ReasonOK, 200)
	old.Probe = "us"
	insertResults(t, db, eu, us, old)

	out, _ := mustRun(t, env, exitOK, "status", strconv.FormatInt(id, 10))
	for _, want := range []string{"http://127.0.0.1:1/detail", "regex ok", "90d", "FAILED AT"} {
		if !strings.Contains(out, want) {
			t.Errorf("status ID output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^eu\s+FAILING 1/3 http_status\s+503\s.*\shttp_status$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^us\s+UP\s+200\s`).MatchString(out) {
		t.Errorf("status ID lacks the probe lines eu FAILING 1/3 and us UP:\n%s", out)
	}
	strip := regexp.MustCompile(`(?m)^[█▆▄▂·]+$`).FindString(out)
	if n := utf8.RuneCountInString(strip); n != 90 || strings.Count(strip, "·") != 88 {
		t.Errorf("strip %q has %d days, want 90 with 2 checked", strip, n)
	}
	out, _ = mustRun(t, env, exitOK, "status", strconv.FormatInt(id, 10), "--json")
	var d api.SiteDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != 90 || len(d.Windows) != 4 || len(d.Probes) != 2 || len(d.Failed) != 1 || d.Windows[1].Checks != 3 || d.Regex != "ok" {
		t.Errorf("status ID --json = %+v", d)
	}
	out, _ = mustRun(t, env, exitOK, "status", "--window", "7d")
	if l := line(t, out, "/detail"); !strings.Contains(l, "eu FAILING 1/3 http_status, us UP") || !regexp.MustCompile(`\s3\s*$`).MatchString(l) {
		t.Errorf("status --window 7d line %q, want both probes and 3 checks", l)
	}
	mustRun(t, env, exitUsage, "status", strconv.FormatInt(id+100, 10))
	mustRun(t, env, exitUsage, "status", "--window", "7days")
}
