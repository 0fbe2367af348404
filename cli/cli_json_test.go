package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/web"
)

// TestJSONOneNaming: `status --json`, `status ID --json`, `incidents
// --json`, `sites list --json` and /api/v1 describe the same website, probe,
// window and incident with the same field names (issue 19 item 5); what
// only one side carries is listed here, and no old name is left anywhere.
func TestJSONOneNaming(t *testing.T) {
	env := migratedDB(t)
	id := addSite(t, env, "http://127.0.0.1:1/json", "--name", "Json", "--regex", "ok")
	db := openStore(t, env)
	now := time.Now()
	var rs []contract.Result
	for i, reason := range []contract.Reason{contract.ReasonOK, contract.ReasonTimeout, contract.ReasonTimeout, contract.ReasonTimeout} {
		r := result(id, now.Add(time.Duration(i-4)*time.Minute), reason, 0)
		r.Probe = "eu"
		rs = append(rs, r)
	}
	insertResults(t, db, rs...)
	srv := httptest.NewServer(web.New(db, web.Options{PublicURLs: true, PublicQuery: true}))
	defer srv.Close()
	sid := strconv.FormatInt(id, 10)

	cli := func(args ...string) any {
		t.Helper()
		out, _ := mustRun(t, env, exitOK, args...)
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("sitestat %v: %v in %s", args, err, out)
		}
		return v
	}
	get := func(path string) any {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var v any
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return v
	}
	status := first(t, cli("status", "--json"))
	detail := object(t, cli("status", sid, "--json"))
	incident := first(t, cli("incidents", "--json"))
	site := first(t, cli("sites", "list", "--json"))
	apiSite := first(t, object(t, get("/api/v1/sites"))["sites"])
	apiDetail := object(t, get("/api/v1/sites/"+sid))
	apiIncident := first(t, object(t, get("/api/v1/incidents"))["incidents"])

	sameKeys(t, "status --json vs /api/v1/sites", status, apiSite, nil, nil)
	sameKeys(t, "status ID --json vs /api/v1/sites/ID", detail, apiDetail, []string{"up_regex"}, []string{"tls_version", "cert_not_after"})
	sameKeys(t, "a probe of status ID --json vs /api/v1/sites/ID", first(t, detail["probes"]), first(t, apiDetail["probes"]), []string{"host"}, nil)
	sameKeys(t, "a window of status ID --json vs /api/v1/sites/ID", first(t, detail["windows"]), first(t, apiDetail["windows"]), nil, nil)
	sameKeys(t, "a day of status ID --json vs /api/v1/sites/ID", first(t, detail["days"]), first(t, apiDetail["days"]), nil, nil)
	sameKeys(t, "a failed check of status ID --json vs /api/v1/sites/ID", first(t, detail["failed_checks"]), first(t, apiDetail["failed_checks"]), nil, nil)
	sameKeys(t, "incidents --json vs /api/v1/incidents", incident, apiIncident, []string{"url", "notifications"}, nil)
	for k := range site {
		if k != "public" && k != "up_regex" && !has(status, k) {
			t.Errorf("sites list --json has %q, status --json does not: %v", k, keysOf(status))
		}
	}

	for name, v := range map[string]map[string]any{"status --json": status, "status ID --json": detail, "/api/v1/sites": apiSite, "/api/v1/sites/ID": apiDetail} {
		for _, k := range []string{"id", "url", "name", "interval_seconds", "state", "reason", "uptime_pct", "availability_pct", "downtime_seconds", "p95_ms", "checked_at", "probes", "window", "checks"} {
			if !has(v, k) {
				t.Errorf("%s lacks %q: %v", name, k, keysOf(v))
			}
		}
		if d, ok := v["downtime_seconds"].(float64); !ok || d != float64(int64(d)) {
			t.Errorf("%s: downtime_seconds %v, want whole seconds", name, v["downtime_seconds"])
		}
	}
	old := []string{"check_interval", "downtime_s", "p95_response_time_ms", "p50_response_time_ms", "last_checked_at",
		"checks_24h", "uptime_24h_pct", "p95_24h_ms"}
	for name, v := range map[string]any{"status --json": status, "status ID --json": detail, "incidents --json": incident,
		"sites list --json": site, "/api/v1/sites": apiSite, "/api/v1/sites/ID": apiDetail, "/api/v1/incidents": apiIncident} {
		all := map[string]bool{}
		allKeys(v, all)
		for _, k := range old {
			if all[k] {
				t.Errorf("%s still says %q", name, k)
			}
		}
	}
}

// sameKeys fails unless cli and api have the same keys, but for those only
// one of them is expected to carry.
func sameKeys(t *testing.T, what string, cli, api map[string]any, cliOnly, apiOnly []string) {
	t.Helper()
	for k := range cli {
		if !has(api, k) && !slices.Contains(cliOnly, k) {
			t.Errorf("%s: %q only in the CLI's JSON (CLI %v, API %v)", what, k, keysOf(cli), keysOf(api))
		}
	}
	for k := range api {
		if !has(cli, k) && !slices.Contains(apiOnly, k) {
			t.Errorf("%s: %q only in the API's JSON (CLI %v, API %v)", what, k, keysOf(cli), keysOf(api))
		}
	}
}

func has(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// allKeys adds every object key found in v, at any depth, to into.
func allKeys(v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			into[k] = true
			allKeys(e, into)
		}
	case []any:
		for _, e := range v {
			allKeys(e, into)
		}
	}
}

func object(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	return m
}

// first is the first element of v, a non-empty array of objects.
func first(t *testing.T, v any) map[string]any {
	t.Helper()
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		t.Fatalf("%v is not a non-empty JSON array", v)
	}
	return object(t, a[0])
}
