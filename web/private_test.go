package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/web"
)

// Marks of the private website: its name and the host of its URL.
const (
	privateName = "Hidden intranet"
	privateHost = "intranet-hidden.example"
)

// seedPrivate adds to seed's websites a private one, checked and down, with
// an open incident.
func seedPrivate(t *testing.T) (known, int64) {
	t.Helper()
	k := seed(t)
	ctx := context.Background()
	id, err := k.db.AddSite(ctx, store.SiteInput{URL: "https://" + privateHost + "/health", Name: privateName, Interval: 60, Private: true})
	if err != nil {
		t.Fatalf("add private site: %v", err)
	}
	var results []contract.Result
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range 5 {
		r := fixture.Result(id)
		r.CheckedAt, r.Up, r.Reason, r.StatusCode = now.Add(-time.Duration(i)*time.Minute), false, contract.ReasonTimeout, nil
		results = append(results, r)
	}
	if _, err := k.db.InsertResults(ctx, results); err != nil {
		t.Fatalf("insert results: %v", err)
	}
	if n := len(mustIncidents(t, k.db, id)); n != 1 {
		t.Fatalf("the private site has %d open incidents, want 1", n)
	}
	return k, id
}

func mustIncidents(t *testing.T, db *store.DB, id int64) []store.Incident {
	t.Helper()
	ins, err := db.Incidents(context.Background(), store.IncidentQuery{WebsiteID: id, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// idRoutes are the routes of one website, with {id} in place of its id.
var idRoutes = []string{
	"/sites/{id}", "/api/v1/sites/{id}", "/api/v1/sites/{id}/uptime?window=7d", "/api/v1/sites/{id}/checks",
	"/badge/{id}/status.svg", "/badge/{id}/uptime/24h.svg", "/badge/{id}/uptime/30d.json",
}

// listRoutes are the routes that list websites or incidents.
var listRoutes = []string{"/", "/?q=hidden", "/?q={id}", "/incidents", "/api/v1/sites", "/api/v1/incidents", "/api/v1/incidents?open=true"}

func route(r string, id int64) string { return strings.ReplaceAll(r, "{id}", itoa(id)) }

// leaks returns what of the private site body shows.
func leaks(body string, id int64) []string {
	var out []string
	for _, mark := range []string{privateName, privateHost, `/sites/` + itoa(id) + `"`, `"id": ` + itoa(id) + ",", `"website_id": ` + itoa(id) + ","} {
		if strings.Contains(body, mark) {
			out = append(out, mark)
		}
	}
	return out
}

// TestServeHidesPrivateSitesWithoutAuth: with SITESTAT_HTTP_BASIC_AUTH
// unset, no request is authenticated, so a private site appears nowhere on
// serve: not in any list, count or search, and its id answers every route
// exactly as an id no website has.
func TestServeHidesPrivateSitesWithoutAuth(t *testing.T) {
	k, priv := seedPrivate(t)
	const none = 999999
	for _, publicURLs := range []bool{true, false} {
		h := web.New(k.db, web.Options{PublicURLs: publicURLs})
		for _, r := range listRoutes {
			res, body := get(t, h, route(r, priv))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", route(r, priv), res.StatusCode)
			}
			if l := leaks(body, priv); len(l) > 0 {
				t.Errorf("public URLs %t, %s shows the private site: %q", publicURLs, route(r, priv), l)
			}
		}
		_, body := get(t, h, "/")
		if !strings.Contains(body, "5 websites:") || !strings.Contains(body, "open incidents: 2<") {
			t.Errorf("the overview counts the private site or its incident:\n%s", body)
		}
		for _, r := range idRoutes {
			res, body := get(t, h, route(r, priv))
			noRes, noBody := get(t, h, route(r, none))
			if res.StatusCode != http.StatusNotFound || res.StatusCode != noRes.StatusCode || body != noBody {
				t.Errorf("%s: status %d %q, want the answer to an unknown id: %d %q", route(r, priv), res.StatusCode, body, noRes.StatusCode, noBody)
			}
			// A public site's routes still answer.
			if res, _ := get(t, h, route(r, k.up)); res.StatusCode != http.StatusOK {
				t.Errorf("%s: status %d, want 200", route(r, k.up), res.StatusCode)
			}
		}
	}
}

// TestServeShowsPrivateSitesToAuthenticated: with basic auth on, the badges
// (open to all) answer 404 for a private site without credentials, as for
// an unknown id, and 200 with them; authenticated pages and API answers
// show and count it.
func TestServeShowsPrivateSitesToAuthenticated(t *testing.T) {
	k, priv := seedPrivate(t)
	h := web.New(k.db, web.Options{BasicAuth: "ann:pa:ss", PublicURLs: true})
	auth := []string{"Authorization", "Basic " + b64("ann:pa:ss")}
	wrong := []string{"Authorization", "Basic " + b64("ann:wrong")}
	for _, r := range idRoutes {
		path := route(r, priv)
		if !strings.HasPrefix(r, "/badge/") {
			if res, _ := get(t, h, path); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s without credentials: status %d, want 401", path, res.StatusCode)
			}
		} else {
			for _, hdr := range [][]string{nil, wrong} {
				res, body := get(t, h, path, hdr...)
				noRes, noBody := get(t, h, route(r, 999999), hdr...)
				if res.StatusCode != http.StatusNotFound || body != noBody || noRes.StatusCode != http.StatusNotFound {
					t.Errorf("%s with %q: status %d %q, want the 404 of an unknown id %q", path, hdr, res.StatusCode, body, noBody)
				}
			}
			if res, _ := get(t, h, route(r, k.up)); res.StatusCode != http.StatusOK {
				t.Errorf("%s (a public site) without credentials: status %d, want 200", route(r, k.up), res.StatusCode)
			}
		}
		if res, body := get(t, h, path, auth...); res.StatusCode != http.StatusOK {
			t.Errorf("%s authenticated: status %d, want 200:\n%s", path, res.StatusCode, body)
		}
	}
	for _, r := range []string{"/", "/?q=hidden", "/incidents", "/api/v1/sites", "/api/v1/incidents?open=true"} {
		res, body := get(t, h, r, auth...)
		if res.StatusCode != http.StatusOK || len(leaks(body, priv)) == 0 {
			t.Errorf("%s authenticated: status %d, the private site not shown:\n%s", r, res.StatusCode, body)
		}
	}
	if _, body := get(t, h, "/", auth...); !strings.Contains(body, "6 websites:") || !strings.Contains(body, "open incidents: 3<") {
		t.Errorf("the authenticated overview does not count the private site and its incident:\n%s", body)
	}
}
