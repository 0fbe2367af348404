package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/web"
)

// TestHiddenURLsShowReasonsOnly: with PublicURLs false, no page or API
// answer shows a host name or IP address from a DNS, TLS or blocked error,
// the up_regex quoted by a regex mismatch, or the checker host named by a
// probe_silent incident; the reasons are shown. With PublicURLs true the
// query values are masked unless PublicQuery.
func TestHiddenURLsShowReasonsOnly(t *testing.T) {
	db, _ := fixture.MigratedDB(t)
	ctx := context.Background()
	site, err := db.AddSite(ctx, store.SiteInput{URL: "https://secret-host.internal/health?key=qsecret", Interval: 60, Regex: "SecretMarker"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	errs := []struct {
		reason contract.Reason
		text   string
	}{
		{contract.ReasonDNSError, "lookup secret-host.internal on 10.9.8.7:53: no such host"},
		{contract.ReasonTLSError, "tls: failed to verify certificate: x509: certificate is valid for other.internal, not secret-host.internal"},
		{contract.ReasonBlocked, "dial 10.1.2.3:443: blocked (SITESTAT_CHECK_DENY_PRIVATE)"},
		{contract.ReasonRegexMismatch, `up_regex "SecretMarker" not found in the first 1048576 bytes of the body`},
	}
	var results []contract.Result
	for i, e := range errs {
		r := fixture.Result(site)
		r.CheckedAt, r.Up, r.Reason, r.StatusCode, r.Error = now.Add(-time.Duration(len(errs)-i)*time.Minute), false, e.reason, nil, e.text
		results = append(results, r)
	}
	if _, err := db.InsertResults(ctx, results); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
		VALUES (NULL, 'probe_silent', now(), 'probe_silent', 'no heartbeat from probe edge (host checker-host-7) since 2026-12-08T01:00:00Z', '{edge}')`); err != nil {
		t.Fatal(err)
	}
	id := itoa(site)
	paths := []string{"/", "/sites/" + id, "/incidents", "/api/v1/sites", "/api/v1/sites/" + id,
		"/api/v1/sites/" + id + "/checks", "/api/v1/incidents"}
	hidden := []string{"secret-host", "10.9.8.7", "10.1.2.3", "other.internal", "SecretMarker", "checker-host-7", "qsecret"}

	h := web.New(db, web.Options{PublicURLs: false})
	for _, path := range paths {
		res, body := get(t, h, path)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, res.StatusCode)
		}
		for _, bad := range hidden {
			if strings.Contains(body, bad) {
				t.Errorf("public_urls=false %s shows %q", path, bad)
			}
		}
	}
	if _, body := get(t, h, "/sites/"+id); !strings.Contains(body, "regex_mismatch") || !strings.Contains(body, "dns_error") {
		t.Errorf("public_urls=false /sites/%s does not show the reasons", id)
	}

	for _, q := range []struct {
		public bool
		want   string
	}{{false, "https://secret-host.internal/health?key=…"}, {true, "https://secret-host.internal/health?key=qsecret"}} {
		h := web.New(db, web.Options{PublicURLs: true, PublicQuery: q.public})
		for _, path := range []string{"/", "/sites/" + id, "/api/v1/sites", "/api/v1/sites/" + id} {
			_, body := get(t, h, path)
			if !strings.Contains(body, q.want) {
				t.Errorf("public_query=%t %s does not show %q", q.public, path, q.want)
			}
			if !q.public && strings.Contains(body, "qsecret") {
				t.Errorf("public_query=false %s shows the query value", path)
			}
		}
	}
}
