package store_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// alertsMarker starts schema.sql's alerts section; what comes before it is
// the schema of the release before the alerts.
const alertsMarker = "-- Alerts (issue 12)"

// mustIncident inserts an incident of site (0: none) and returns its id.
func mustIncident(tb testing.TB, db *store.DB, site int64, resolved bool) int64 {
	tb.Helper()
	var siteArg any
	if site != 0 {
		siteArg = site
	}
	var id int64
	err := db.SQL().QueryRowContext(testContext(tb), `
		INSERT INTO incidents (website_id, kind, started_at, resolved_at, reason, error, probes)
		VALUES ($1, 'down', now() - interval '90 seconds', CASE WHEN $2 THEN now() END,
		        'http_status', 'HTTP 500', '{edge-1,edge-2}')
		RETURNING id`, siteArg, resolved).Scan(&id)
	if err != nil {
		tb.Fatalf("insert incident: %v", err)
	}
	return id
}

func mustEnqueue(tb testing.TB, db *store.DB, incident int64, event alert.Event, chs ...alert.Channel) []int64 {
	tb.Helper()
	ids, err := db.Enqueue(testContext(tb), incident, event, chs)
	if err != nil {
		tb.Fatalf("enqueue %s of incident %d: %v", event, incident, err)
	}
	return ids
}

func mustClaim(tb testing.TB, db *store.DB, limit int, lease time.Duration) []alert.Notification {
	tb.Helper()
	ns, err := db.ClaimNotifications(testContext(tb), limit, lease)
	if err != nil {
		tb.Fatalf("claim: %v", err)
	}
	return ns
}

func TestEnqueueTxCommitsWithTheCallersTransaction(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	site := fixture.AddSite(t, db, "https://example.com/shop")
	for _, commit := range []bool{false, true} {
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var incident int64
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
			VALUES ($1, 'down', now() - interval '60 seconds', 'http_status', 'HTTP 503', '{edge-1}')
			RETURNING id`, site).Scan(&incident); err != nil {
			t.Fatal(err)
		}
		ids, err := store.EnqueueTx(ctx, tx, incident, alert.EventDown, []alert.Channel{alert.ChannelWebhook, alert.ChannelPagerDuty})
		if err != nil {
			t.Fatalf("EnqueueTx: %v", err)
		}
		if len(ids) != 2 {
			t.Fatalf("EnqueueTx returned %v, want 2 ids", ids)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if commit {
			want = 2
		}
		if n := fixture.Count(t, db, "SELECT count(*) FROM notifications WHERE incident_id = $1", incident); n != want {
			t.Errorf("commit=%v: %d notifications, want %d", commit, n, want)
		}
	}

	ns := mustClaim(t, db, 10, time.Minute)
	if len(ns) != 2 {
		t.Fatalf("claimed %d, want 2", len(ns))
	}
	m := ns[0].Message
	if m.V != alert.Version || m.Event != alert.EventDown || m.Kind != "down" || m.URL != "https://example.com/shop" ||
		m.WebsiteID == nil || *m.WebsiteID != site || m.Reason != "http_status" || m.Error != "HTTP 503" ||
		!slices.Equal(m.Probes, []string{"edge-1"}) || m.ResolvedAt != nil || m.NotificationID != ns[0].ID {
		t.Errorf("payload = %+v", m)
	}
	if m.DurationSeconds < 59 || m.DurationSeconds > 120 {
		t.Errorf("duration = %v s, want about 60", m.DurationSeconds)
	}
}

func TestEnqueueTwiceNotifiesOnce(t *testing.T) {
	db := migratedDB(t)
	incident := mustIncident(t, db, 0, false)
	if ids := mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelWebhook, alert.ChannelSlack); len(ids) != 2 {
		t.Fatalf("first enqueue: %v", ids)
	}
	if ids := mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelWebhook, alert.ChannelSlack); len(ids) != 0 {
		t.Errorf("second enqueue added %v, want nothing", ids)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM notifications"); n != 2 {
		t.Errorf("%d notifications, want 2", n)
	}
	if _, err := db.Enqueue(testContext(t), incident, alert.EventTest, []alert.Channel{alert.ChannelWebhook}); err == nil {
		t.Error("enqueue of a test event: no error")
	}
	if _, err := db.Enqueue(testContext(t), incident+100, alert.EventDown, []alert.Channel{alert.ChannelWebhook}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enqueue for a missing incident: %v, want ErrNotFound", err)
	}
}

func TestRecoveredGoesOnlyToChannelsThatGotTheDown(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	incident := mustIncident(t, db, 0, false)
	mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelWebhook, alert.ChannelSlack, alert.ChannelPagerDuty)
	downs := map[alert.Channel]alert.Notification{}
	for _, n := range mustClaim(t, db, 10, time.Minute) {
		downs[n.Channel] = n
	}
	// slack's down fails for good; webhook's is delivered; pagerduty's is
	// still pending (not yet delivered) when the incident resolves.
	if failed, err := db.RetryNotification(ctx, downs[alert.ChannelSlack].ID, 1, time.Second, 0, "HTTP 500"); err != nil || !failed {
		t.Fatalf("retry with give-up 0: failed=%v err=%v, want failed", failed, err)
	}
	if ok, err := db.MarkDelivered(ctx, downs[alert.ChannelWebhook].ID, 1); err != nil || !ok {
		t.Fatalf("mark delivered: %v %v", ok, err)
	}
	if failed, err := db.RetryNotification(ctx, downs[alert.ChannelPagerDuty].ID, 1, 0, time.Hour, "HTTP 502"); err != nil || failed {
		t.Fatalf("retry: failed=%v err=%v, want rescheduled", failed, err)
	}
	fixture.Exec(t, db, "UPDATE incidents SET resolved_at = now() WHERE id = $1", incident)

	// Channels configured now (slack only, say) do not matter for a recovery.
	ids := mustEnqueue(t, db, incident, alert.EventRecovered, alert.ChannelSlack)
	if len(ids) != 2 {
		t.Fatalf("recovered enqueued %d notifications, want 2 (webhook and pagerduty)", len(ids))
	}
	var got []string
	rows, err := db.SQL().QueryContext(ctx, "SELECT channel FROM notifications WHERE event = 'recovered' ORDER BY channel")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		_ = rows.Scan(&c)
		got = append(got, c)
	}
	rows.Close()
	if want := []string{"pagerduty", "webhook"}; !slices.Equal(got, want) {
		t.Errorf("recovered went to %v, want %v", got, want)
	}

	// Due now: webhook's recovered, and pagerduty's down; pagerduty's
	// recovered waits for its down.
	claimed := mustClaim(t, db, 10, time.Minute)
	var names []string
	for _, n := range claimed {
		names = append(names, string(n.Channel)+"/"+string(n.Event))
	}
	slices.Sort(names)
	if want := []string{"pagerduty/down", "webhook/recovered"}; !slices.Equal(names, want) {
		t.Fatalf("claimed %v, want %v", names, want)
	}
	for _, n := range claimed {
		if n.Event == alert.EventRecovered && (n.Message.ResolvedAt == nil || n.Message.Event != alert.EventRecovered) {
			t.Errorf("recovered payload %+v lacks resolved_at", n.Message)
		}
		if n.Channel == alert.ChannelPagerDuty {
			if ok, err := db.MarkDelivered(ctx, n.ID, n.Attempt); err != nil || !ok {
				t.Fatalf("mark pagerduty down delivered: %v %v", ok, err)
			}
		}
	}
	if c := mustClaim(t, db, 10, time.Minute); len(c) != 1 || c[0].Channel != alert.ChannelPagerDuty || c[0].Event != alert.EventRecovered {
		t.Errorf("after the down was delivered, claimed %+v, want pagerduty's recovered", c)
	}
}

func TestFailedDownFailsItsPendingRecovered(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	incident := mustIncident(t, db, 0, true)
	down := mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelPagerDuty)
	mustEnqueue(t, db, incident, alert.EventRecovered)
	c := mustClaim(t, db, 10, time.Minute)
	if len(c) != 1 || c[0].ID != down[0] {
		t.Fatalf("claimed %+v, want only the down", c)
	}
	if failed, err := db.RetryNotification(ctx, down[0], c[0].Attempt, time.Second, 0, "timeout"); err != nil || !failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM notifications WHERE event = 'recovered' AND failed_at IS NOT NULL AND last_error LIKE 'not sent%'"); n != 1 {
		t.Errorf("%d failed recovered, want 1", n)
	}
	if c := mustClaim(t, db, 10, 0); len(c) != 0 {
		t.Errorf("claimed %+v after the failure, want nothing", c)
	}
}

func TestClaimLeasesAndFencesAttempts(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	ids := mustEnqueue(t, db, mustIncident(t, db, 0, false), alert.EventDown, alert.ChannelWebhook)
	first := mustClaim(t, db, 10, 300*time.Millisecond)
	if len(first) != 1 || first[0].ID != ids[0] || first[0].Attempt != 1 {
		t.Fatalf("first claim %+v", first)
	}
	if c := mustClaim(t, db, 10, time.Minute); len(c) != 0 {
		t.Fatalf("claimed again during the lease: %+v", c)
	}
	var second []alert.Notification
	deadline := time.Now().Add(10 * time.Second)
	for len(second) == 0 && time.Now().Before(deadline) {
		second = mustClaim(t, db, 10, time.Minute)
		time.Sleep(50 * time.Millisecond)
	}
	if len(second) != 1 || second[0].Attempt != 2 {
		t.Fatalf("after the lease: claimed %+v, want attempt 2", second)
	}
	if ok, err := db.MarkDelivered(ctx, ids[0], 1); err != nil || ok {
		t.Errorf("mark with the stale attempt 1: ok=%v err=%v, want false", ok, err)
	}
	if failed, err := db.RetryNotification(ctx, ids[0], 1, 0, 0, "stale"); err != nil || failed {
		t.Errorf("retry with the stale attempt 1: failed=%v err=%v, want nothing", failed, err)
	}
	if ok, err := db.MarkDelivered(ctx, ids[0], 2); err != nil || !ok {
		t.Errorf("mark with attempt 2: ok=%v err=%v", ok, err)
	}
	if ok, _ := db.MarkDelivered(ctx, ids[0], 2); ok {
		t.Error("marked delivered twice")
	}
}

func TestRetryReschedulesUntilGiveUp(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	ids := mustEnqueue(t, db, mustIncident(t, db, 0, false), alert.EventDown, alert.ChannelWebhook)
	c := mustClaim(t, db, 1, time.Minute)
	if failed, err := db.RetryNotification(ctx, ids[0], c[0].Attempt, 30*time.Second, time.Hour, "HTTP 500"); err != nil || failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if n := fixture.Count(t, db, `SELECT count(*) FROM notifications WHERE id = $1 AND failed_at IS NULL
		AND next_attempt_at BETWEEN now() + interval '25 seconds' AND now() + interval '35 seconds' AND last_error = 'HTTP 500'`, ids[0]); n != 1 {
		t.Error("not rescheduled 30 s ahead")
	}
	// The next attempt is never later than the give-up time.
	fixture.Exec(t, db, "UPDATE notifications SET next_attempt_at = now() WHERE id = $1", ids[0])
	c = mustClaim(t, db, 1, time.Minute)
	if failed, err := db.RetryNotification(ctx, ids[0], c[0].Attempt, time.Hour, 2*time.Minute, "HTTP 500"); err != nil || failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if n := fixture.Count(t, db, `SELECT count(*) FROM notifications WHERE id = $1
		AND next_attempt_at <= created_at + interval '2 minutes'`, ids[0]); n != 1 {
		t.Error("next attempt later than the give-up time")
	}
	fixture.Exec(t, db, "UPDATE notifications SET next_attempt_at = now() WHERE id = $1", ids[0])
	c = mustClaim(t, db, 1, time.Minute)
	if failed, err := db.RetryNotification(ctx, ids[0], c[0].Attempt, time.Second, 0, "HTTP 500"); err != nil || !failed {
		t.Fatalf("after the give-up time: failed=%v err=%v, want failed", failed, err)
	}
	if c := mustClaim(t, db, 1, 0); len(c) != 0 {
		t.Errorf("a failed notification was claimed: %+v", c)
	}
}

func TestClaimConcurrentlyNeverTwice(t *testing.T) {
	db := migratedDB(t)
	const incidents = 40
	for range incidents {
		mustEnqueue(t, db, mustIncident(t, db, 0, false), alert.EventDown, alert.ChannelWebhook)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ns, err := db.ClaimNotifications(testContext(t), 3, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(ns) == 0 {
					return
				}
				mu.Lock()
				for _, n := range ns {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != incidents {
		t.Errorf("claimed %d distinct notifications, want %d", len(seen), incidents)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("notification %d claimed %d times", id, n)
		}
	}
}

func TestCheckAlertSchema(t *testing.T) {
	db := migratedDB(t)
	if err := schema.CheckSync(testContext(t), db.SQL()); err != nil {
		t.Fatalf("fresh schema: %v", err)
	}
	fixture.Exec(t, db, "ALTER TABLE notifications DROP COLUMN next_attempt_at")
	err := schema.CheckSync(testContext(t), db.SQL())
	var de *schema.DriftError
	if !errors.As(err, &de) || de.Table != "notifications" || de.Column != "next_attempt_at" {
		t.Fatalf("after dropping a column: %v", err)
	}
	mustMigrate(t, db, schema.MigrateOptions{})
	fixture.Exec(t, db, "ALTER TABLE notifications DROP CONSTRAINT notifications_incident_event_channel_key")
	if err := schema.CheckSync(testContext(t), db.SQL()); !errors.Is(err, schema.ErrDrift) {
		t.Fatalf("without the unique key: %v", err)
	}
	mustMigrate(t, db, schema.MigrateOptions{})
	if err := schema.CheckSync(testContext(t), db.SQL()); err != nil {
		t.Fatalf("after migrate: %v", err)
	}
}

// TestMigrateAddsAlertTablesToPreviousRelease migrates a database written by
// the release before the alerts (schema.sql without its alerts section,
// holding a website and a result) and checks that the tables appear and the
// data stays.
func TestMigrateAddsAlertTablesToPreviousRelease(t *testing.T) {
	script := schemaSQL(t)
	i := strings.Index(script, alertsMarker)
	if i < 0 {
		t.Fatalf("schema.sql has no %q section", alertsMarker)
	}
	db := newDB(t)
	fixture.Exec(t, db, script[:i])
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES ($1)", store.SchemaVersion)
	// The previous release's rows: a website, a result and its state.
	var site int64
	if err := db.SQL().QueryRowContext(testContext(t),
		"INSERT INTO websites (url) VALUES ('https://example.com/') RETURNING id").Scan(&site); err != nil {
		t.Fatalf("insert website: %v", err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if _, err := db.EnsurePartitions(testContext(t), day, day); err != nil {
		t.Fatalf("partitions: %v", err)
	}
	fixture.Exec(t, db, `INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, probe)
		VALUES ($1, now(), '{}', gen_random_uuid(), false, 'http_status', 'test')`, site)
	fixture.Exec(t, db, `INSERT INTO site_probe_state (website_id, probe, checked_at, check_id, up, reason)
		VALUES ($1, 'test', now() - interval '1 second', gen_random_uuid(), false, 'http_status')`, site)
	if err := schema.CheckSync(testContext(t), db.SQL()); !errors.Is(err, schema.ErrDrift) {
		t.Fatalf("previous release: CheckSchema = %v, want drift", err)
	}
	rep := mustMigrate(t, db, schema.MigrateOptions{})
	for _, want := range []string{"create table incidents", "create table notifications"} {
		if !contains(rep.Actions, want) {
			t.Errorf("migrate actions %q lack %q", rep.Actions, want)
		}
	}
	if len(rep.Problems) > 0 {
		t.Errorf("problems: %q", rep.Problems)
	}
	if err := schema.CheckSync(testContext(t), db.SQL()); err != nil {
		t.Errorf("after migrate: CheckSchema: %v", err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE website_id = $1", site); n != 1 {
		t.Errorf("%d results after migrate, want 1", n)
	}
	// The old state row continues its streak from zero.
	if _, err := db.InsertResults(testContext(t), []contract.Result{newResult(site, time.Now(), false, 500, 12)}); err != nil {
		t.Fatalf("insert result after migrate: %v", err)
	}
	if n := fixture.Count(t, db, "SELECT fail_streak FROM site_probe_state WHERE website_id = $1", site); n != 1 {
		t.Errorf("fail_streak %d after one failure on the old state, want 1", n)
	}
	mustEnqueue(t, db, mustIncident(t, db, site, false), alert.EventDown, alert.ChannelWebhook)
}

// TestNotificationOutlivesItsRemovedSite: removing a website removes its
// incidents, but a pending notification keeps its incident id and payload
// and stays due.
func TestNotificationOutlivesItsRemovedSite(t *testing.T) {
	db := migratedDB(t)
	site := fixture.AddSite(t, db, "https://gone.example/")
	incident := mustIncident(t, db, site, false)
	mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelPagerDuty)
	fixture.Exec(t, db, "DELETE FROM websites WHERE id = $1", site)
	if n := fixture.Count(t, db, "SELECT count(*) FROM incidents"); n != 0 {
		t.Fatalf("%d incidents left after removing the site", n)
	}
	c := mustClaim(t, db, 10, time.Minute)
	if len(c) != 1 {
		t.Fatalf("claimed %d, want 1", len(c))
	}
	if c[0].IncidentID != incident || c[0].Message.IncidentID != incident || c[0].Message.URL != "https://gone.example/" {
		t.Errorf("notification %+v: want the incident id kept, and the payload's incident and URL", c[0])
	}
}

func TestIncidentNotifications(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	a := mustIncident(t, db, 0, false)
	b := mustIncident(t, db, 0, false)
	other := mustIncident(t, db, 0, false)
	mustEnqueue(t, db, a, alert.EventDown, alert.ChannelWebhook, alert.ChannelSlack)
	mustEnqueue(t, db, b, alert.EventDown, alert.ChannelPagerDuty)
	mustEnqueue(t, db, other, alert.EventDown, alert.ChannelPagerDuty)
	for _, n := range mustClaim(t, db, 10, time.Minute) {
		switch n.Channel {
		case alert.ChannelWebhook:
			_, _ = db.MarkDelivered(ctx, n.ID, n.Attempt)
		case alert.ChannelSlack:
			_, _ = db.RetryNotification(ctx, n.ID, n.Attempt, time.Second, 0, "HTTP 404")
		}
	}
	got, err := db.IncidentNotifications(ctx, []int64{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[a]) != 2 || len(got[b]) != 1 {
		t.Fatalf("got %+v, want 2 notifications of incident %d and 1 of %d", got, a, b)
	}
	var states []string
	for _, n := range append(got[a], got[b]...) {
		states = append(states, string(n.Channel)+":"+n.State()+":"+n.LastError)
	}
	if want := []string{"webhook:delivered:", "slack:failed:HTTP 404", "pagerduty:pending:"}; !slices.Equal(states, want) {
		t.Errorf("states %q, want %q", states, want)
	}
}

// TestClaimFailsUnreadablePayloads: each kind of payload that does not
// decode is marked failed by the claim that meets it, with a reason that
// never quotes the payload, while the good row claimed with it is returned.
func TestClaimFailsUnreadablePayloads(t *testing.T) {
	tests := []struct {
		name, payload, want string
	}{
		{"not an object", `"S3cret"`, `a JSON string is not an alert message`},
		{"wrong type", `{"incident_id": "S3cret"}`, `field "incident_id" is not of type int64`},
		{"bad time", `{"started_at": "S3cret"}`, `a field's value cannot be decoded`},
		{"bad list", `{"probes": {"S3cret": 1}}`, `field "probes" is not of type []string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := migratedDB(t)
			ctx := testContext(t)
			good := mustEnqueue(t, db, mustIncident(t, db, 0, false), alert.EventDown, alert.ChannelSlack)[0]
			bad := mustEnqueue(t, db, mustIncident(t, db, 0, false), alert.EventDown, alert.ChannelSlack)[0]
			if _, err := db.SQL().ExecContext(ctx, `UPDATE notifications SET payload = $2 WHERE id = $1`, bad, tt.payload); err != nil {
				t.Fatal(err)
			}
			ns := mustClaim(t, db, 10, time.Minute)
			if len(ns) != 1 || ns[0].ID != good {
				t.Fatalf("claimed %+v, want only the good notification %d", ns, good)
			}
			var lastError string
			var failed bool
			if err := db.SQL().QueryRowContext(ctx, `SELECT failed_at IS NOT NULL, coalesce(last_error, '')
				FROM notifications WHERE id = $1`, bad).Scan(&failed, &lastError); err != nil {
				t.Fatal(err)
			}
			if !failed || !strings.Contains(lastError, "unreadable payload: "+tt.want) || strings.Contains(lastError, "S3cret") {
				t.Errorf("bad notification: failed %t, last error %q, want failed with %q and no payload text", failed, lastError, tt.want)
			}
			if n := db.UnreadableNotifications(); n != 1 {
				t.Errorf("UnreadableNotifications() = %d, want 1", n)
			}
			if ns := mustClaim(t, db, 10, time.Minute); len(ns) != 0 {
				t.Errorf("claimed again: %+v", ns)
			}
		})
	}
}

// TestPayloadHoldsNoUserInfo: the outbox payload shows the site's URL (and
// the URLs its error quotes) without user info, the error cut to
// contract.MaxErrorLen; a payload an earlier release stored with the raw URL is
// redacted when claimed.
func TestPayloadHoldsNoUserInfo(t *testing.T) {
	db := migratedDB(t)
	site := fixture.AddSite(t, db, "https://ops:S3cret@intranet.example/health?key=qs3cret")
	long := `Get "https://ops:S3cret@intranet.example/health": ` + strings.Repeat("x", 2*contract.MaxErrorLen)
	var incident int64
	if err := db.SQL().QueryRowContext(testContext(t), `
		INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
		VALUES ($1, 'down', now(), 'connection_error', $2, '{edge-1}') RETURNING id`, site, long).Scan(&incident); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, db, incident, alert.EventDown, alert.ChannelWebhook)
	var payload string
	if err := db.SQL().QueryRow("SELECT payload::text FROM notifications WHERE incident_id = $1", incident).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"S3cret", "ops"} {
		if strings.Contains(payload, secret) {
			t.Errorf("notifications.payload holds %q: %s", secret, payload)
		}
	}
	// An earlier release's payload, raw URL and all.
	fixture.Exec(t, db, `INSERT INTO notifications (incident_id, event, channel, payload)
		VALUES ($1, 'down', 'slack', jsonb_build_object('v', 1, 'event', 'down', 'kind', 'down',
		'url', 'https://ops:S3cret@intranet.example/health', 'error', 'back to http://a:S3cret@b/', 'probes', '[]'::jsonb))`, incident)
	for _, n := range mustClaim(t, db, 10, time.Minute) {
		m := n.Message
		if m.URL != "https://intranet.example/health?key=qs3cret" && m.URL != "https://intranet.example/health" {
			t.Errorf("%s: url = %q, want it without user info", n.Channel, m.URL)
		}
		if strings.Contains(m.Error, "S3cret") || utf8.RuneCountInString(m.Error) > contract.MaxErrorLen {
			t.Errorf("%s: error = %q (%d characters), want no secret and at most %d", n.Channel, m.Error, utf8.RuneCountInString(m.Error), contract.MaxErrorLen)
		}
	}
}
