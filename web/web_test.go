package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/web"
)

// hostile is markup a website's URL, name or error text could carry.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>`

// known is a database with known rows: site up (named), site down with an
// open incident and a hostile error, site failing, site never checked, and
// a site whose URL holds a password and markup.
type known struct {
	db                             *store.DB
	up, down, failing, never, evil int64
}

func seed(t *testing.T) known {
	t.Helper()
	db, _ := fixture.MigratedDB(t)
	ctx := context.Background()
	add := func(in store.SiteInput) int64 {
		id, err := db.AddSite(ctx, in)
		if err != nil {
			t.Fatalf("add site %q: %v", in.URL, err)
		}
		return id
	}
	k := known{db: db}
	k.up = add(store.SiteInput{URL: "https://up.example/", Name: "Up site", Interval: 60})
	k.down = add(store.SiteInput{URL: "https://down.example/", Interval: 60})
	k.failing = add(store.SiteInput{URL: "https://failing.example/", Interval: 60})
	k.never = add(store.SiteInput{URL: "https://never.example/", Interval: 60})
	k.evil = add(store.SiteInput{URL: "https://user:s3cret@evil.example/?q=%22%3E%3Cscript%3E", Name: hostile, Interval: 60})
	now := time.Now().UTC().Truncate(time.Microsecond)
	var results []contract.Result
	for i := range 30 {
		at := now.Add(-time.Duration(i) * 10 * time.Minute)
		r := fixture.Result(k.up)
		r.CheckedAt, r.ResponseTimeMs = at, float64(10+i)
		tls := "TLS 1.3"
		exp := now.Add(40 * 24 * time.Hour)
		r.TLSVersion, r.CertNotAfter = tls, &exp
		results = append(results, r)
		for _, id := range []int64{k.down, k.evil} {
			f := fixture.Result(id)
			f.CheckedAt, f.Up, f.Reason, f.StatusCode, f.Error = at, false, contract.ReasonTimeout, nil, hostile+" https://user:s3cret@evil.example/"
			results = append(results, f)
		}
		r = fixture.Result(k.failing)
		r.CheckedAt = at
		if i == 0 {
			r.Up, r.Reason, r.Error = false, contract.ReasonHTTPStatus, "status 503"
		}
		results = append(results, r)
	}
	// A day 10 days ago, for the 90-day bar.
	old := fixture.Result(k.up)
	old.CheckedAt = now.Add(-10 * 24 * time.Hour)
	old.Up, old.Reason = false, contract.ReasonTimeout
	if _, err := db.EnsurePartitions(ctx, old.CheckedAt, old.CheckedAt); err != nil {
		t.Fatalf("partitions: %v", err)
	}
	results = append(results, old)
	if _, err := db.InsertResults(ctx, results); err != nil {
		t.Fatalf("insert results: %v", err)
	}
	for _, id := range []int64{k.down, k.evil} {
		var incident int64
		// InsertResults opened the site's down incident already (its checks
		// all failed): give it the fixture's start, error and probes.
		if err := db.SQL().QueryRowContext(ctx, `INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
			VALUES ($1, 'down', $2, 'timeout', $3, '{test}')
			ON CONFLICT (website_id, kind) WHERE resolved_at IS NULL AND website_id IS NOT NULL
			DO UPDATE SET started_at = excluded.started_at, reason = excluded.reason, error = excluded.error, probes = excluded.probes
			RETURNING id`, id, now.Add(-5*time.Hour), hostile).Scan(&incident); err != nil {
			t.Fatalf("insert incident: %v", err)
		}
		if _, err := db.Enqueue(ctx, incident, alert.EventDown, []alert.Channel{alert.ChannelWebhook}); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO incidents (website_id, kind, started_at, resolved_at, reason)
		VALUES ($1, 'down', $2, $3, 'dns_error')`, k.up, now.Add(-48*time.Hour), now.Add(-47*time.Hour)); err != nil {
		t.Fatalf("insert incident: %v", err)
	}
	return k
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestServeRoutes(t *testing.T) {
	k := seed(t)
	h := web.New(k.db, web.Options{PublicURLs: true})
	id := itoa
	cases := []struct {
		path, ctype string
		code        int
		want        []string
	}{
		{"/healthz", "text/plain", 200, []string{"ok"}},
		{"/readyz", "text/plain", 200, []string{"ok"}},
		{"/", "text/html", 200, []string{"5 websites", "Up site", "down: timeout", "failing 1/3: http_status", "never checked", `data-state="up"`}},
		{"/?q=up+site", "text/html", 200, []string{"Up site", "Page 1 of 1"}},
		{"/sites/" + id(k.up), "text/html", 200, []string{"Up site", "TLS 1.3", "in 39 days", "<polyline", "dns_error", "365d"}},
		{"/sites/" + id(k.down), "text/html", 200, []string{"down: timeout", "open"}},
		{"/sites/" + id(k.never), "text/html", 200, []string{"never checked", "Never checked."}},
		{"/incidents", "text/html", 200, []string{"dns_error", "open", "resolved", "down webhook: pending"}},
		{"/api/v1/sites", "application/json", 200, []string{`"state": "down"`, `"state": "never"`, `"name": "Up site"`,
			`"interval_seconds": `, `"window": "24h"`, `"checked_at": "`, `"uptime_pct": `, `"downtime_seconds": `}},
		{"/api/v1/sites/" + id(k.up), "application/json", 200, []string{`"tls_version": "TLS 1.3"`, `"window": "365d"`,
			`"p95_ms": `, `"p50_ms": `, `"failed_checks": [`, `"interval_seconds": `}},
		{"/api/v1/sites/" + id(k.up) + "/uptime?window=30d", "application/json", 200, []string{`"window": "30d"`, `"checks": 31`, `"availability_pct": 100`, `"downtime_seconds": 0`}},
		{"/api/v1/sites/" + id(k.up) + "/checks?limit=5", "application/json", 200, []string{`"check_id"`, `"next": "/api/v1/sites/`}},
		{"/api/v1/incidents?open=true", "application/json", 200, []string{`"open": true`}},
		{"/badge/" + id(k.up) + "/status.svg", "image/svg+xml", 200, []string{"status: up"}},
		{"/badge/" + id(k.down) + "/status.svg", "image/svg+xml", 200, []string{"status: down"}},
		{"/badge/" + id(k.up) + "/uptime/30d.svg", "image/svg+xml", 200, []string{"uptime 30d: 96.8"}},
		{"/badge/" + id(k.up) + "/uptime/30d.json", "application/json", 200, []string{`"schemaVersion":1`, `"label":"uptime 30d"`}},
		{"/metrics", "text/plain", 200, []string{"sitestat_http_requests_total"}},
		// Bad parameters.
		{"/sites/abc", "text/html", 404, []string{"no such website"}},
		{"/sites/999999", "text/html", 404, []string{"no such website"}},
		{"/?page=x", "text/html", 400, nil},
		{"/api/v1/sites/999999", "application/json", 404, []string{`"status": 404`}},
		{"/api/v1/sites/x", "application/json", 404, []string{`"error"`}},
		{"/api/v1/sites/" + id(k.up) + "/uptime?window=3w", "application/json", 400, []string{`"status": 400`}},
		{"/api/v1/sites/" + id(k.up) + "/checks?limit=0", "application/json", 400, nil},
		{"/api/v1/sites/" + id(k.up) + "/checks?since=yesterday", "application/json", 400, nil},
		{"/api/v1/incidents?open=maybe", "application/json", 400, nil},
		{"/api/v1/nothing", "application/json", 404, nil},
		{"/badge/" + id(k.up) + "/uptime/5d.svg", "text/plain", 404, nil},
		{"/badge/999999/status.svg", "text/plain", 404, nil},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.path, "/", "_"), func(t *testing.T) {
			res, body := get(t, h, c.path)
			if res.StatusCode != c.code {
				t.Fatalf("status %d, want %d; body:\n%s", res.StatusCode, c.code, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, c.ctype)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if strings.HasPrefix(c.path, "/badge/") && c.code == 200 && res.Header.Get("Cache-Control") != "public, max-age=60" {
				t.Errorf("badge Cache-Control %q", res.Header.Get("Cache-Control"))
			}
		})
	}
	// The overview is sorted down first.
	_, body := get(t, h, "/")
	if d, u := strings.Index(body, `data-state="down"`), strings.Index(body, `data-state="up"`); d < 0 || u < 0 || d > u {
		t.Errorf("down rows (at %d) should come before up rows (at %d)", d, u)
	}
	// The 90-day bar has 90 days per row.
	if n := strings.Count(body, `<rect class=`); n != 5*90 {
		t.Errorf("%d day rects, want %d", n, 5*90)
	}
	// Requests are counted and timed by route, not by path.
	_, body = get(t, h, "/metrics")
	for _, w := range []string{`sitestat_http_requests_total{code="200",route="/sites/{id}"}`,
		`sitestat_http_requests_total{code="404",route="/sites/{id}"} 2`,
		`sitestat_http_requests_total{code="200",route="/badge/{id}/status.svg"} 2`,
		`sitestat_http_request_duration_seconds_count{route="/api/v1/sites"}`} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Contains(body, `route="/sites/`+id(k.up)) {
		t.Error("/metrics has a route per website id")
	}
	// The checks API pages.
	_, body = get(t, h, "/api/v1/sites/"+id(k.up)+"/checks?limit=20")
	var page struct {
		Checks []json.RawMessage `json:"checks"`
		Next   string            `json:"next"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Checks) != 20 || page.Next == "" {
		t.Fatalf("first page: %d checks, next %q, err %v", len(page.Checks), page.Next, err)
	}
	_, body = get(t, h, page.Next)
	page.Next = ""
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Checks) != 10 || page.Next != "" {
		t.Fatalf("second page: %d checks (want 10: 30 in the default 24 h), next %q, err %v", len(page.Checks), page.Next, err)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestServeEscapesHostileRows(t *testing.T) {
	k := seed(t)
	for _, public := range []bool{true, false} {
		h := web.New(k.db, web.Options{PublicURLs: public})
		for _, path := range []string{"/", "/sites/" + itoa(k.evil), "/incidents", "/api/v1/sites", "/api/v1/sites/" + itoa(k.evil),
			"/api/v1/sites/" + itoa(k.evil) + "/checks", "/api/v1/incidents", "/sites/" + itoa(k.down)} {
			res, body := get(t, h, path)
			if res.StatusCode != 200 {
				t.Fatalf("%s: status %d", path, res.StatusCode)
			}
			for _, bad := range []string{"<script", "<img", "s3cret", "user:"} {
				if strings.Contains(body, bad) {
					t.Errorf("public=%t %s: body contains %q", public, path, bad)
				}
			}
			if !public && strings.Contains(body, "example/") {
				t.Errorf("public=false %s: body shows a URL:\n%s", path, body)
			}
		}
		if _, body := get(t, h, "/"); !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("public=%t: the hostile name is not shown escaped", public)
		}
	}
}

func TestServeBasicAuth(t *testing.T) {
	k := seed(t)
	h := web.New(k.db, web.Options{BasicAuth: "ann:pa:ss", PublicURLs: true})
	ok := "Basic " + b64("ann:pa:ss")
	for _, c := range []struct {
		path, auth string
		code       int
	}{
		{"/", "", 401},
		{"/", "Basic " + b64("ann:wrong"), 401},
		{"/", ok, 200},
		{"/api/v1/sites", "", 401},
		{"/api/v1/sites", ok, 200},
		{"/metrics", "", 401},
		{"/incidents", "", 401},
		{"/sites/" + itoa(k.up), "", 401},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/badge/" + itoa(k.up) + "/status.svg", "", 200},
		{"/badge/" + itoa(k.up) + "/uptime/24h.json", "", 200},
	} {
		var hdr []string
		if c.auth != "" {
			hdr = []string{"Authorization", c.auth}
		}
		res, _ := get(t, h, c.path, hdr...)
		if res.StatusCode != c.code {
			t.Errorf("%s with %q: status %d, want %d", c.path, c.auth, res.StatusCode, c.code)
		}
		if c.code == 401 && res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.path)
		}
	}
}

// downDB is a store whose database does not answer.
type downDB struct{ *store.DB }

func (downDB) Ping(context.Context) error { return errors.New("connection refused") }

func TestServeReadyz(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	if res, _ := get(t, web.New(db, web.Options{}), "/readyz"); res.StatusCode != http.StatusOK {
		t.Errorf("/readyz with the database up: %d", res.StatusCode)
	}
	h := web.New(downDB{db}, web.Options{})
	if res, _ := get(t, h, "/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d, want 503", res.StatusCode)
	}
	if res, _ := get(t, h, "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz with the database down: %d, want 200 (alive)", res.StatusCode)
	}
}

func TestServePagination(t *testing.T) {
	k := seed(t)
	h := web.New(k.db, web.Options{PublicURLs: true, PageSize: 2})
	seen := map[string]bool{}
	for page, want := range map[int]int{1: 2, 2: 2, 3: 1} {
		_, body := get(t, h, "/?page="+strconv.Itoa(page))
		if n := strings.Count(body, `<tr class="site"`); n != want {
			t.Errorf("page %d: %d rows, want %d", page, n, want)
		}
		if !strings.Contains(body, "Page "+strconv.Itoa(page)+" of 3") {
			t.Errorf("page %d does not say it is page %d of 3", page, page)
		}
		if has := strings.Contains(body, `rel="next"`); has != (page < 3) {
			t.Errorf("page %d: next link %t", page, has)
		}
		if has := strings.Contains(body, `rel="prev"`); has != (page > 1) {
			t.Errorf("page %d: prev link %t", page, has)
		}
		for _, id := range []int64{k.up, k.down, k.failing, k.never, k.evil} {
			if strings.Contains(body, `href="/sites/`+itoa(id)+`"`) {
				if seen[itoa(id)] {
					t.Errorf("website %d on two pages", id)
				}
				seen[itoa(id)] = true
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d websites over the pages, want 5", len(seen))
	}
	// The search keeps to its matches, and its pages keep the query.
	_, body := get(t, h, "/?q=example")
	if !strings.Contains(body, `href="/?page=2&amp;q=example"`) {
		t.Errorf("the next page of a search drops the query:\n%s", body)
	}
	_, body = get(t, h, "/?q=nothing-matches")
	if strings.Contains(body, `<tr class="site"`) || !strings.Contains(body, "No websites match") {
		t.Errorf("a search without match shows rows")
	}
}
