package store_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// TestMigrateKeepsRemovedSitesRecoveredInOrder migrates a database written by
// the release before issue 18 (testdata/schema_v3.sql: notifications
// referencing incidents ON DELETE SET NULL, no removal triggers) holding an
// open incident with a pending down: CheckSchema reports the drift, migrate
// drops the foreign key and keeps the rows, and removing the site then
// enqueues the recovered, held back behind its down.
func TestMigrateKeepsRemovedSitesRecoveredInOrder(t *testing.T) {
	v3, err := os.ReadFile("testdata/schema_v3.sql")
	if err != nil {
		t.Fatal(err)
	}
	db := newDB(t)
	fixture.Exec(t, db, string(v3))
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES (3)")
	// Written as that release wrote it: it knows no websites.public.
	var site int64
	if err := db.SQL().QueryRowContext(testContext(t),
		"INSERT INTO websites (url, check_interval) VALUES ('https://old.example/', 60) RETURNING id").Scan(&site); err != nil {
		t.Fatal(err)
	}
	incident := mustIncident(t, db, site, false)
	down := mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelPagerDuty)
	var drift *schema.DriftError
	if err := schema.CheckSync(testContext(t), db.SQL()); !errors.As(err, &drift) || drift.Table != "websites" {
		t.Fatalf("previous release: CheckSchema = %v, want drift of the websites triggers", err)
	}
	rep := mustMigrate(t, db, schema.MigrateOptions{})
	if !contains(rep.Actions, "drop constraint notifications_incident_id_fkey on notifications") || len(rep.Problems) > 0 {
		t.Errorf("migrate actions %q problems %q: want the foreign key dropped, no problem", rep.Actions, rep.Problems)
	}
	if err := schema.CheckSync(testContext(t), db.SQL()); err != nil {
		t.Errorf("after migrate: CheckSchema: %v", err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM notifications WHERE id = $1 AND incident_id = $2", down[0], incident); n != 1 {
		t.Fatalf("the old down notification is gone after migrate")
	}

	if err := db.RemoveSites(testContext(t), []int64{site}); err != nil {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, `SELECT count(*) FROM notifications
		WHERE incident_id = $1 AND event = 'recovered' AND channel = 'pagerduty' AND payload->>'reason' = 'site_removed'`, incident); n != 1 {
		t.Fatalf("%d recovered with reason site_removed for the removed site's incident, want 1", n)
	}
	c := mustClaim(t, db, 10, time.Minute)
	if len(c) != 1 || c[0].Event != alert.EventDown || c[0].IncidentID != incident {
		t.Fatalf("claimed %+v, want only the down of incident %d (the recovered waits for it)", c, incident)
	}
	if ok, err := db.MarkDelivered(testContext(t), c[0].ID, c[0].Attempt); !ok || err != nil {
		t.Fatalf("mark delivered: %v %v", ok, err)
	}
	c = mustClaim(t, db, 10, time.Minute)
	if len(c) != 1 || c[0].Event != alert.EventRecovered || c[0].Message.ResolvedAt == nil ||
		c[0].Message.Reason != alert.ReasonSiteRemoved || c[0].Message.URL != "https://old.example/" {
		t.Fatalf("claimed %+v, want the recovered, resolved, with reason site_removed", c)
	}
	if d := c[0].Message.DurationSeconds; d < 89 || d > 150 {
		t.Errorf("recovered duration %.1f s, want about 90 (the incident's age)", d)
	}
}

// TestAlertingOffResolvesOnlyTheDown: turning alerting off resolves the open
// down incident (reason alerting_off), not the certificate incident, and
// updating other settings of a site resolves nothing.
func TestAlertingOffResolvesOnlyTheDown(t *testing.T) {
	db := migratedDB(t)
	site := fixture.AddSite(t, db, "https://quiet.example/")
	down := mustIncident(t, db, site, false)
	mustEnqueue(t, db, down, alert.EventDown, alert.ChannelSlack)
	fixture.Exec(t, db, `INSERT INTO incidents (website_id, kind, started_at, reason) VALUES ($1, 'cert_expiry', now(), 'cert_expiry')`, site)
	name := "renamed"
	if err := db.UpdateSite(testContext(t), site, store.SiteUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NULL", site); n != 2 {
		t.Fatalf("a rename left %d incidents open, want 2", n)
	}
	off := 0
	if err := db.UpdateSite(testContext(t), site, store.SiteUpdate{AlertAfter: &off}); err != nil {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE website_id = $1 AND resolved_at IS NULL AND kind = 'cert_expiry'", site); n != 1 {
		t.Errorf("alerting off left %d cert_expiry incidents open, want 1", n)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM incidents WHERE id = $1 AND resolved_at IS NOT NULL", down); n != 1 {
		t.Errorf("alerting off did not resolve the down incident")
	}
	if n := fixture.Count(t, db, `SELECT count(*) FROM notifications
		WHERE incident_id = $1 AND event = 'recovered' AND channel = 'slack' AND payload->>'reason' = 'alerting_off'`, down); n != 1 {
		t.Errorf("%d recovered with reason alerting_off, want 1", n)
	}
	// Setting it to 0 again changes nothing more.
	if err := db.UpdateSite(testContext(t), site, store.SiteUpdate{AlertAfter: &off}); err != nil {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM notifications"); n != 2 {
		t.Errorf("%d notifications after a second --alert-after 0, want 2", n)
	}
}
