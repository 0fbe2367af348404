package store_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// websitesDigest is every websites row but updated_at, in id order.
func websitesDigest(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	if err := db.SQL().QueryRowContext(testContext(t), `
		SELECT md5(string_agg(concat_ws('|', id, url, check_interval, up_regex, created_at, name, alert_after, recover_after), E'\n' ORDER BY id))
		FROM websites`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMigrateFromVersion3AddsPublic upgrades a database written by the
// release before private sites (testdata/schema_v3.sql, schema.sql as of
// 19de01f, schema version 3): serve refuses it until it is migrated (the
// drift check names websites.public), migrate adds websites.public NOT NULL
// DEFAULT true keeping every row — each site public, as it was — without
// bumping the schema version or rebuilding the rollups, and a second run has
// nothing to do.
func TestMigrateFromVersion3AddsPublic(t *testing.T) {
	db := newDB(t)
	ctx := testContext(t)
	v3, err := os.ReadFile("testdata/schema_v3.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, string(v3))
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES (3)")
	fixture.Exec(t, db, `INSERT INTO websites (url, check_interval, name, alert_after)
		SELECT 'https://site' || i || '.example/', 60, 'site ' || i, CASE WHEN i = 2 THEN 0 END FROM generate_series(1, 3) i`)
	now := time.Now().UTC()
	if _, err := db.EnsurePartitions(ctx, now.Add(-24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertResults(ctx, []contract.Result{newResult(1, now, true, 200, 12), newResult(2, now, false, 503, 40)}); err != nil {
		t.Fatal(err)
	}
	sites, results := websitesDigest(t, db), fixture.RowsDigest(t, db)

	var drift *schema.DriftError
	if err := schema.CheckServe(ctx, db.SQL()); !errors.As(err, &drift) || drift.Table != "websites" || drift.Column != "public" {
		t.Errorf("CheckServeSchema before migrate = %v, want drift on websites.public", err)
	}

	rep := mustMigrate(t, db, schema.MigrateOptions{})
	for _, l := range rep.Lines() {
		t.Log(l)
	}
	if len(rep.Problems) > 0 || !contains(rep.Actions, "add column websites.public (boolean)") || !contains(rep.Actions, "set websites.public NOT NULL") {
		t.Fatalf("migrate: actions %q, problems %q", rep.Actions, rep.Problems)
	}
	if contains(rep.Actions, "rebuild rollups") || contains(rep.Actions, "record schema version") {
		t.Errorf("migrate bumped the version or rebuilt the rollups for an added column: %q", rep.Actions)
	}
	if got := websitesDigest(t, db); got != sites {
		t.Error("websites rows changed by the upgrade")
	}
	if got := fixture.RowsDigest(t, db); got != results {
		t.Error("website_status rows changed by the upgrade")
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM websites WHERE public"); n != 3 {
		t.Errorf("%d public websites after the upgrade, want all 3", n)
	}
	var nullable, def string
	if err := db.SQL().QueryRowContext(ctx, `SELECT is_nullable, column_default FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'websites' AND column_name = 'public'`).Scan(&nullable, &def); err != nil {
		t.Fatal(err)
	}
	if nullable != "NO" || def != "true" {
		t.Errorf("websites.public nullable %s default %s, want NOT NULL DEFAULT true", nullable, def)
	}
	if err := schema.CheckServe(ctx, db.SQL()); err != nil {
		t.Errorf("CheckServeSchema after migrate: %v", err)
	}
	if err := schema.CheckSync(ctx, db.SQL()); err != nil {
		t.Errorf("CheckSchema after migrate: %v", err)
	}
	// A version 3 writer (it names no public column) still adds public sites.
	fixture.Exec(t, db, "INSERT INTO websites (url, check_interval) VALUES ('https://old-writer.example/', 60)")
	if n := fixture.Count(t, db, "SELECT count(*) FROM websites WHERE public"); n != 4 {
		t.Errorf("a site added without naming public is not public")
	}
	if again := mustMigrate(t, db, schema.MigrateOptions{}); !again.UpToDate() {
		t.Errorf("second migrate: actions %q, problems %q; want up to date", again.Actions, again.Problems)
	}
}

// TestPrivateSites: a site added private is private, update switches it
// both ways and leaves it alone when not asked, and the reads serve uses
// carry the flag: SiteStates, SiteState, PrivateSiteIDs, and Incidents with
// PublicOnly, which keeps the incidents of no website.
func TestPrivateSites(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	pub, err := db.AddSite(ctx, store.SiteInput{URL: "https://public.example/"})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := db.AddSite(ctx, store.SiteInput{URL: "https://private.example/", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	withID, err := db.AddSite(ctx, store.SiteInput{ID: 40, URL: "https://private-id.example/", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{pub, priv} {
		fixture.Exec(t, db, "INSERT INTO incidents (website_id, kind, started_at, reason) VALUES ($1, 'down', now(), 'timeout')", id)
	}
	fixture.Exec(t, db, "INSERT INTO incidents (kind, started_at, probes) VALUES ('probe_silent', now(), '{edge}')")

	check := func(step string, want map[int64]bool) {
		t.Helper()
		states, err := db.SiteStates(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Public != want[s.ID] {
				t.Errorf("%s: SiteStates: site %d public %t, want %t", step, s.ID, s.Public, want[s.ID])
			}
			one, err := db.SiteState(ctx, s.ID, time.Now())
			if err != nil || one.Public != want[s.ID] {
				t.Errorf("%s: SiteState(%d) public %t (%v), want %t", step, s.ID, one.Public, err, want[s.ID])
			}
		}
		ids, err := db.PrivateSiteIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for id, public := range want {
			if ids[id] == public {
				t.Errorf("%s: PrivateSiteIDs has %d: %t, want %t", step, id, ids[id], !public)
			}
		}
		ins, err := db.Incidents(ctx, store.IncidentQuery{PublicOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, in := range ins {
			got[in.WebsiteID] = true
		}
		if !got[0] || got[pub] != want[pub] || got[priv] != want[priv] {
			t.Errorf("%s: PublicOnly incidents of sites %v, want those of the public sites and of no site", step, got)
		}
		if all, _ := db.Incidents(ctx, store.IncidentQuery{}); len(all) != 3 {
			t.Errorf("%s: %d incidents without PublicOnly, want 3", step, len(all))
		}
	}
	check("added", map[int64]bool{pub: true, priv: false, withID: false})

	yes, no := true, false
	for _, u := range []struct {
		id int64
		u  store.SiteUpdate
	}{{pub, store.SiteUpdate{Public: &no}}, {priv, store.SiteUpdate{Public: &yes}}} {
		if err := db.UpdateSite(ctx, u.id, u.u); err != nil {
			t.Fatal(err)
		}
	}
	name := "renamed"
	if err := db.UpdateSite(ctx, withID, store.SiteUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	check("updated", map[int64]bool{pub: false, priv: true, withID: false})
}
