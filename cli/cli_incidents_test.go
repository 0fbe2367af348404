package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
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

// TestCLIIncidents: an outage that recovered and one still open are listed
// with their durations and notifications; --open, --site, --since and
// --json select and describe them.
func TestCLIIncidents(t *testing.T) {
	env := migratedDB(t)
	a := addSite(t, env, "http://127.0.0.1:1/a")
	b := addSite(t, env, "http://127.0.0.1:1/b")
	db, err := store.Open(context.Background(), env["SITESTAT_DATABASE_URL"],
		store.Options{Alerts: store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	var rs []contract.Result
	for i, r := range []contract.Reason{"http_status", "http_status", "http_status", "ok", "ok"} {
		rs = append(rs, result(a, base.Add(time.Duration(i)*time.Minute), r, 500))
	}
	for i := range 3 {
		rs = append(rs, result(b, base.Add(time.Duration(i)*time.Minute), contract.ReasonTimeout, 0))
	}
	insertResults(t, db, rs...)

	out, _ := mustRun(t, env, exitOK, "incidents")
	if l := line(t, out, "/a "); !regexp.MustCompile(`\sdown\s+\d+\s.*\s4m0s\s+http_status\s+\S+\s+down:webhook:pending recovered:webhook:pending$`).MatchString(l) {
		t.Errorf("incident of site a: %q, want down, 4m0s (to the second pass), http_status and its two notifications", l)
	}
	if l := line(t, out, "/b "); !regexp.MustCompile(`\s\d+m\d+s \(open\)\s+timeout\s`).MatchString(l) {
		t.Errorf("incident of site b: %q, want an open duration and timeout", l)
	}
	out, _ = mustRun(t, env, exitOK, "incidents", "--open")
	if regexp.MustCompile(`/a\s`).MatchString(out) || !regexp.MustCompile(`/b\s`).MatchString(out) {
		t.Errorf("incidents --open:\n%s\nwant only site b's", out)
	}
	out, _ = mustRun(t, env, exitOK, "incidents", "--site", strconv.FormatInt(a, 10), "--json")
	var got []api.IncidentNotices
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ResolvedAt == nil || got[0].DurationSeconds != 240 || len(got[0].Notifications) != 2 ||
		!got[0].StartedAt.Equal(base) {
		t.Errorf("incidents --site a --json = %+v, want one resolved after 240 s with 2 notifications", got)
	}
	out, _ = mustRun(t, env, exitOK, "incidents", "--since", "1m")
	if regexp.MustCompile(`/a\s`).MatchString(out) || !regexp.MustCompile(`/b\s`).MatchString(out) {
		t.Errorf("incidents --since 1m:\n%s\nwant only the open one", out)
	}
	mustRun(t, env, exitUsage, "incidents", "--since", "yesterday")
}

// TestCLIMaintenance: add, list and remove windows; status marks a covered
// site MAINT; bad windows are usage errors.
func TestCLIMaintenance(t *testing.T) {
	env := migratedDB(t)
	site := addSite(t, env, "http://127.0.0.1:1/m")
	other := addSite(t, env, "http://127.0.0.1:1/o")
	now := time.Now()
	insertResults(t, openStore(t, env), result(site, now.Add(-5*time.Second), contract.ReasonOK, 200),
		result(other, now.Add(-5*time.Second), contract.ReasonOK, 200))
	out, _ := mustRun(t, env, exitOK, "maintenance", "add", "--site", strconv.FormatInt(site, 10),
		"--from", "now", "--until", "+1h", "--reason", "db upgrade")
	id := strings.TrimSpace(out)
	mustRun(t, env, exitOK, "maintenance", "add", "--all", "--from", "+2h", "--until", "+3h")
	out, _ = mustRun(t, env, exitOK, "maintenance", "list")
	if !regexp.MustCompile(`(?m)^`+id+`\s+`+strconv.FormatInt(site, 10)+`\s.*\sactive\s+db upgrade$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)\sall\s.*\splanned\s*$`).MatchString(out) {
		t.Errorf("maintenance list:\n%s\nwant the active window of the site and the planned one of all", out)
	}
	out, _ = mustRun(t, env, exitOK, "status")
	if l := line(t, out, "/m "); !strings.Contains(l, "MAINT UP") {
		t.Errorf("status line of the site in maintenance: %q, want MAINT UP", l)
	}
	if l := line(t, out, "/o "); strings.Contains(l, "MAINT") {
		t.Errorf("status line of the other site: %q, want no MAINT", l)
	}
	mustRun(t, env, exitOK, "maintenance", "remove", id)
	mustRun(t, env, exitUsage, "maintenance", "remove", id)
	mustRun(t, env, exitUsage, "maintenance", "add", "--all", "--from", "+2h", "--until", "+1h")
	mustRun(t, env, exitUsage, "maintenance", "add", "--from", "now", "--until", "+1h")
	mustRun(t, env, exitUsage, "maintenance", "add", "--site", "99999", "--from", "now", "--until", "+1h")
	out, _ = mustRun(t, env, exitOK, "status")
	if strings.Contains(line(t, out, "/m "), "MAINT") {
		t.Errorf("status after remove still shows MAINT:\n%s", out)
	}
}

// TestCLIIncidentsShowsAnUnreadableNotification: a notification whose payload
// does not decode, failed by the claim that met it, is shown by `incidents`
// as failed, with its reason in --json.
func TestCLIIncidentsShowsAnUnreadableNotification(t *testing.T) {
	env := migratedDB(t)
	site := addSite(t, env, "http://127.0.0.1:1/u")
	db, err := store.Open(context.Background(), env["SITESTAT_DATABASE_URL"],
		store.Options{Alerts: store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	var rs []contract.Result
	for i := range 3 {
		rs = append(rs, result(site, base.Add(time.Duration(i)*time.Second), contract.ReasonTimeout, 0))
	}
	insertResults(t, db, rs...)
	if _, err := db.SQL().Exec(`UPDATE notifications SET payload = '[1, 2]'`); err != nil {
		t.Fatal(err)
	}
	if ns, err := db.ClaimNotifications(context.Background(), 10, time.Minute); err != nil || len(ns) != 0 {
		t.Fatalf("claim = %v, %v; want nothing to deliver and no error", ns, err)
	}
	out, _ := mustRun(t, env, exitOK, "incidents")
	if l := line(t, out, "/u "); !strings.HasSuffix(l, "down:webhook:failed") {
		t.Errorf("incident line %q, want its notification failed", l)
	}
	out, _ = mustRun(t, env, exitOK, "incidents", "--json")
	var got []api.IncidentNotices
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Notifications) != 1 || got[0].Notifications[0].State != "failed" ||
		!strings.Contains(got[0].Notifications[0].LastError, "unreadable payload") {
		t.Errorf("incidents --json = %+v, want one notification failed for its unreadable payload", got)
	}
}
