package store_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// alertingDB returns a migrated database opened with alerting options.
func alertingDB(tb testing.TB, opts store.AlertOptions) *store.DB {
	tb.Helper()
	url := testenv.NewDatabase(tb)
	mustMigrate(tb, openDB(tb, url), schema.MigrateOptions{})
	db, err := store.Open(testContext(tb), url, store.Options{Alerts: opts})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// checks parses a script of checks: one token per check, "probe:U" or
// "probe:F" ("F" alone is probe "test"); a trailing "~" makes the check
// late (an hour before the first).
func checks(site int64, script string, base time.Time) []contract.Result {
	var out []contract.Result
	for i, tok := range strings.Fields(script) {
		probe, st, ok := strings.Cut(tok, ":")
		if !ok {
			probe, st = "test", tok
		}
		at := base.Add(time.Duration(i) * 10 * time.Second)
		if strings.HasSuffix(st, "~") {
			st, at = strings.TrimSuffix(st, "~"), base.Add(-time.Hour)
		}
		r := newResult(site, at, st == "U", map[bool]int{true: 200, false: 500}[st == "U"], 5)
		r.Probe = probe
		out = append(out, r)
	}
	return out
}

func TestStreaksOpenAndResolveDownIncidents(t *testing.T) {
	db := alertingDB(t, store.AlertOptions{Quorum: 2, Channels: []alert.Channel{alert.ChannelWebhook}})
	ctx := testContext(t)
	one, zero := 1, 0
	cases := []struct {
		name         string
		alertAfter   *int
		script       string
		wantOpen     int // open incidents after the script
		wantResolved int
		wantStarted  int // index of the check the incident's started_at is, -1 for none
	}{
		{name: "single failure", script: "F U U", wantStarted: -1},
		{name: "two failures, a pass, two failures", script: "F F U F F", wantStarted: -1},
		{name: "outage and recovery", script: "U F F F F U U", wantResolved: 1, wantStarted: 1},
		{name: "one pass does not recover", script: "F F F U F U", wantOpen: 1, wantStarted: 0},
		{name: "two outages", script: "F F F U U F F F U U", wantResolved: 2, wantStarted: 5},
		{name: "late result does not move the streak", script: "F F U~ F", wantOpen: 1, wantStarted: 0},
		{name: "site alert-after 1", alertAfter: &one, script: "U F", wantOpen: 1, wantStarted: 1},
		{name: "site alert-after 0: alerting off", alertAfter: &zero, script: "F F F F F", wantStarted: -1},
		{name: "quorum 2 of two probes: one failing is not down",
			script: "a:U b:U a:F a:F a:F b:U", wantStarted: -1},
		{name: "quorum 2 of two probes: both failing",
			script: "a:U b:U a:F b:F a:F b:F a:F b:F", wantOpen: 1, wantStarted: 2},
	}
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	for _, tc := range cases {
		for _, mode := range []string{"one batch per check", "one batch", "one batch twice"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				site, err := db.AddSite(ctx, store.SiteInput{URL: "https://example.com/", Interval: 10, AlertAfter: tc.alertAfter})
				if err != nil {
					t.Fatal(err)
				}
				rs := checks(site, tc.script, base)
				switch mode {
				case "one batch per check":
					for _, r := range rs {
						if _, err := db.InsertResults(ctx, []contract.Result{r}); err != nil {
							t.Fatal(err)
						}
					}
				default:
					times := map[string]int{"one batch": 1, "one batch twice": 2}[mode]
					for range times {
						if _, err := db.InsertResults(ctx, rs); err != nil {
							t.Fatal(err)
						}
					}
				}
				open := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NULL", site)
				resolved := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NOT NULL", site)
				if int(open) != tc.wantOpen || int(resolved) != tc.wantResolved {
					t.Errorf("%d open and %d resolved incidents, want %d and %d", open, resolved, tc.wantOpen, tc.wantResolved)
				}
				downs := fixture.Count(t, db, `SELECT count(*) FROM notifications n JOIN incidents i ON i.id = n.incident_id
					WHERE i.website_id = $1 AND n.event = 'down' AND n.channel = 'webhook'`, site)
				recovered := fixture.Count(t, db, `SELECT count(*) FROM notifications n JOIN incidents i ON i.id = n.incident_id
					WHERE i.website_id = $1 AND n.event = 'recovered'`, site)
				if int(downs) != tc.wantOpen+tc.wantResolved || int(recovered) != tc.wantResolved {
					t.Errorf("%d down and %d recovered notifications, want %d and %d", downs, recovered,
						tc.wantOpen+tc.wantResolved, tc.wantResolved)
				}
				if tc.wantStarted >= 0 {
					var started time.Time
					if err := db.SQL().QueryRowContext(ctx,
						"SELECT max(started_at) FROM incidents WHERE website_id = $1", site).Scan(&started); err != nil {
						t.Fatal(err)
					}
					if want := rs[tc.wantStarted].CheckedAt; !started.Equal(want) {
						t.Errorf("started_at %v, want check %d's %v", started.UTC(), tc.wantStarted, want)
					}
				}
			})
		}
	}
}

// TestIncidentRecordsReasonErrorAndProbes checks what an opened incident
// and its down notification carry.
func TestIncidentRecordsReasonErrorAndProbes(t *testing.T) {
	db := alertingDB(t, store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook, alert.ChannelSlack}})
	ctx := testContext(t)
	site := fixture.AddSite(t, db, "https://example.com/down")
	if _, err := db.InsertResults(ctx, checks(site, "edge-1:F edge-1:F edge-2:U edge-1:F", time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.SQL().QueryRowContext(ctx, `SELECT format('%s %s %s %s', kind, reason, error, probes)
		FROM incidents WHERE website_id = $1`, site).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "down http_status failed {edge-1}"; got != want {
		t.Errorf("incident %q, want %q", got, want)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM notifications WHERE event = 'down'"); n != 2 {
		t.Errorf("%d down notifications, want one per channel (2)", n)
	}
	var fail, ok int
	var failing bool
	if err := db.SQL().QueryRowContext(ctx, `SELECT fail_streak, ok_streak, failing FROM site_probe_state
		WHERE website_id = $1 AND probe = 'edge-1'`, site).Scan(&fail, &ok, &failing); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(fail, ok, failing), "3 0 true"; got != want {
		t.Errorf("edge-1 streak %s, want %s", got, want)
	}
}

// TestMaintenanceWindows: during a window no incident opens, for the
// website it covers or for every website; an incident open before the
// window resolves in it and its recovery is enqueued; a site still failing
// after the window opens its incident at the next failing check.
func TestMaintenanceWindows(t *testing.T) {
	db := alertingDB(t, store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}})
	ctx := testContext(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-30 * time.Minute)
	site := func() int64 { return fixture.AddSite(t, db, "https://example.com/m") }
	insert := func(rs []contract.Result) {
		t.Helper()
		if _, err := db.InsertResults(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	incidents := func(id int64) string {
		t.Helper()
		var s string
		if err := db.SQL().QueryRowContext(ctx, `SELECT format('%s open, %s resolved, %s down, %s recovered',
			count(*) FILTER (WHERE resolved_at IS NULL), count(*) FILTER (WHERE resolved_at IS NOT NULL),
			(SELECT count(*) FROM notifications n JOIN incidents j ON j.id = n.incident_id WHERE j.website_id = $1 AND event = 'down'),
			(SELECT count(*) FROM notifications n JOIN incidents j ON j.id = n.incident_id WHERE j.website_id = $1 AND event = 'recovered'))
			FROM incidents WHERE website_id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	addWindow := func(id int64, from, until time.Time) {
		t.Helper()
		if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{WebsiteID: id, From: from, Until: until}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	covered := site()
	addWindow(covered, base.Add(-time.Minute), base.Add(time.Hour))
	insert(checks(covered, "F F F F F U U", base))
	if got, want := incidents(covered), "0 open, 0 resolved, 0 down, 0 recovered"; got != want {
		t.Errorf("outage in the site's window: %s, want %s", got, want)
	}

	all := site()
	addWindow(0, base.Add(2*time.Hour), base.Add(3*time.Hour))
	insert(checks(all, "F F F", base.Add(2*time.Hour)))
	if got, want := incidents(all), "0 open, 0 resolved, 0 down, 0 recovered"; got != want {
		t.Errorf("outage in a window of all sites: %s, want %s", got, want)
	}
	// Still failing after the window: the next failure opens it, from that
	// failure (TestMaintenanceIsNotDowntime checks the start).
	insert(checks(all, "F", base.Add(3*time.Hour)))
	if got, want := incidents(all), "1 open, 0 resolved, 1 down, 0 recovered"; got != want {
		t.Errorf("failing on after the window: %s, want %s", got, want)
	}

	before := site()
	insert(checks(before, "F F F", base.Add(-10*time.Minute)))
	addWindow(before, base.Add(-5*time.Minute), base.Add(time.Hour))
	insert(checks(before, "U U", base))
	if got, want := incidents(before), "0 open, 1 resolved, 1 down, 1 recovered"; got != want {
		t.Errorf("incident open before the window: %s, want %s", got, want)
	}

	if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{WebsiteID: 99999, From: base, Until: base.Add(time.Hour)}, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("window of a missing site: %v, want ErrNotFound", err)
	}
	if _, err := db.AddMaintenance(ctx, store.MaintenanceWindow{From: base, Until: base}, time.Now()); !errors.Is(err, store.ErrInvalidWindow) {
		t.Errorf("empty window: %v, want ErrInvalidWindow", err)
	}
}

// tlsServer serves https with a locally generated certificate for
// 127.0.0.1 that expires at notAfter, and returns its URL and a pool that
// trusts it.
func tlsServer(t *testing.T, notAfter time.Time) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "sitestat test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/", pool
}

// TestCertExpiryIncident: checks of a site whose locally generated
// certificate expires in 3 days open one cert_expiry incident, however many
// checks and batches see it; a check that sees a renewed certificate
// resolves it.
func TestCertExpiryIncident(t *testing.T) {
	db := alertingDB(t, store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}})
	ctx := testContext(t)
	expiring, pool := tlsServer(t, time.Now().Add(3*24*time.Hour))
	id := fixture.AddSite(t, db, expiring)
	probe := func(url string, pool *x509.CertPool) contract.Result {
		t.Helper()
		r := checker.Probe(ctx, contract.Site{ID: id, URL: url, Interval: time.Minute}, checker.ProbeOptions{RootCAs: pool, Probe: "edge-1"})
		if !r.Up || r.CertNotAfter == nil {
			t.Fatalf("check of %s: %+v, want up with a certificate", url, r)
		}
		return r
	}
	for range 2 {
		if _, err := db.InsertResults(ctx, []contract.Result{probe(expiring, pool), probe(expiring, pool)}); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	var msg string
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*), max(error) FROM incidents
		WHERE website_id = $1 AND kind = 'cert_expiry' AND resolved_at IS NULL`, id).Scan(&n, &msg); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !strings.Contains(msg, "(in 3.0 days)") {
		t.Fatalf("%d open cert_expiry incidents (%q), want 1 expiring in 3.0 days", n, msg)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE website_id = $1 AND kind = 'down'", id); n != 0 {
		t.Errorf("%d down incidents for an up site", n)
	}
	renewed, pool2 := tlsServer(t, time.Now().Add(90*24*time.Hour))
	if _, err := db.InsertResults(ctx, []contract.Result{probe(renewed, pool2)}); err != nil {
		t.Fatal(err)
	}
	if got := incidentEvents(t, db, id); got != "cert_expiry resolved: down recovered" {
		t.Errorf("after the renewal: %q, want the incident resolved with its down and recovered", got)
	}
}

// incidentEvents describes the incidents of a website and their
// notification events, e.g. "cert_expiry resolved: down recovered".
func incidentEvents(t *testing.T, db *store.DB, site int64) string {
	t.Helper()
	var s string
	if err := db.SQL().QueryRowContext(testContext(t), `
		SELECT coalesce(string_agg(x, '; ' ORDER BY id), '') FROM (
			SELECT i.id, i.kind || CASE WHEN i.resolved_at IS NULL THEN ' open' ELSE ' resolved' END || ':' ||
			       coalesce((SELECT string_agg(' ' || n.event, '' ORDER BY n.id) FROM notifications n WHERE n.incident_id = i.id), '') AS x
			FROM incidents i WHERE i.website_id = $1) s`, site).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProbeSilence: a probe whose latest heartbeat is older than the
// silence gets one probe_silent incident with a down; its next heartbeat
// resolves it with a recovered; forgetting a silent probe resolves its
// incident too and deletes it.
func TestProbeSilence(t *testing.T) {
	db := alertingDB(t, store.AlertOptions{Channels: []alert.Channel{alert.ChannelWebhook}})
	ctx := testContext(t)
	beat := func(probe string) {
		t.Helper()
		if err := db.RecordHeartbeats(ctx, []contract.Heartbeat{{V: 1, Probe: probe, Host: "h1", At: time.Now(), Sites: 3, Checks: 9}}); err != nil {
			t.Fatal(err)
		}
	}
	beat("edge-1")
	beat("edge-2")
	if ids, err := db.OpenSilentProbes(ctx, time.Minute); err != nil || len(ids) != 0 {
		t.Fatalf("fresh heartbeats: opened %v, %v; want none", ids, err)
	}
	fixture.Exec(t, db, "UPDATE probes SET received_at = now() - interval '2 minutes'")
	beat("edge-2") // heard from again
	ids, err := db.OpenSilentProbes(ctx, time.Minute)
	if err != nil || len(ids) != 1 {
		t.Fatalf("edge-1 silent: opened %v, %v; want one incident", ids, err)
	}
	if again, err := db.OpenSilentProbes(ctx, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("second pass: opened %v, %v; want none", again, err)
	}
	ps, err := db.Probes(ctx)
	if err != nil || len(ps) != 2 || ps[0].Silent != ids[0] || ps[1].Silent != 0 || ps[0].Sites != 3 {
		t.Fatalf("probes %+v, %v: want edge-1 silent, edge-2 not", ps, err)
	}
	beat("edge-1")
	if got := silentEvents(t, db, ids[0]); got != "resolved: down recovered" {
		t.Errorf("after edge-1's heartbeat: %q", got)
	}
	fixture.Exec(t, db, "UPDATE probes SET received_at = now() - interval '2 minutes' WHERE name = 'edge-2'")
	ids, err = db.OpenSilentProbes(ctx, time.Minute)
	if err != nil || len(ids) != 1 {
		t.Fatalf("edge-2 silent: opened %v, %v", ids, err)
	}
	if err := db.ForgetProbe(ctx, "edge-2"); err != nil {
		t.Fatal(err)
	}
	if got := silentEvents(t, db, ids[0]); got != "resolved: down recovered" {
		t.Errorf("after forgetting edge-2: %q", got)
	}
	if err := db.ForgetProbe(ctx, "edge-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("forgetting it twice: %v, want ErrNotFound", err)
	}
}

func silentEvents(t *testing.T, db *store.DB, id int64) string {
	t.Helper()
	var s string
	if err := db.SQL().QueryRowContext(testContext(t), `
		SELECT CASE WHEN i.resolved_at IS NULL THEN 'open' ELSE 'resolved' END || ':' ||
		       coalesce((SELECT string_agg(' ' || n.event, '' ORDER BY n.id) FROM notifications n WHERE n.incident_id = i.id), '')
		FROM incidents i WHERE i.id = $1 AND i.kind = 'probe_silent' AND i.website_id IS NULL`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
