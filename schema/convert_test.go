package schema_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// phase1DB returns a database made the way the previous release made it:
// its schema.sql (testdata/schema_v1.sql, from commit 88b623d), version 1
// recorded, three websites and rows over the last ten days written as its
// sync wrote them (probe = the host name, no host field), 2,000 of them.
func phase1DB(t *testing.T) *store.DB {
	t.Helper()
	db := newDB(t)
	v1, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, string(v1))
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES (1)")
	fixture.Exec(t, db, "INSERT INTO websites (url, check_interval) SELECT 'https://site' || i || '.example/', 60 FROM generate_series(1, 3) i")
	fixture.Exec(t, db, `
		INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms)
		SELECT w, at, jsonb_build_object('v', 1, 'check_id', id, 'website_id', w, 'url', 'https://site' || w || '.example/',
		           'checked_at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'probe', 'old-host-' || w,
		           'up', up, 'reason', CASE WHEN up THEN 'ok' ELSE 'http_status' END,
		           'status_code', CASE WHEN up THEN 200 ELSE 503 END, 'response_time_ms', rt,
		           'error', CASE WHEN up THEN '' ELSE 'HTTP 503' END),
		       id, up, CASE WHEN up THEN 'ok' ELSE 'http_status' END, CASE WHEN up THEN 200 ELSE 503 END, rt
		FROM (SELECT 1 + i % 3 AS w, now() - make_interval(mins => i * 7) AS at, gen_random_uuid() AS id,
		             i % 9 <> 0 AS up, (i % 400 + 1)::real / 4 AS rt
		      FROM generate_series(0, 1999) i) s`)
	return db
}

// TestMigrateConvertsPhase1 converts a database written by the previous
// release: every row is kept as it was, the table becomes partitioned with
// the old rows in one partition, the rollups and state are built from them,
// sync's writes work (and still refuse an old check again), and a second
// run has nothing to do.
func TestMigrateConvertsPhase1(t *testing.T) {
	db := phase1DB(t)
	ctx := testContext(t)
	digest := fixture.RowsDigest(t, db)
	if err := schema.CheckSync(ctx, db.SQL()); err == nil {
		t.Fatal("CheckSchema on a version 1 database = nil, want drift")
	}

	var progress []string
	rep, err := schema.Migrate(ctx, db, schemaSQL(t), schema.MigrateOptions{Progress: func(l string) { progress = append(progress, l) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(progress, rep.Lines()...) {
		t.Log(l)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("problems: %q", rep.Problems)
	}
	for _, want := range []string{"rename the version 1 website_status to website_status_phase1",
		"attach website_status_phase1 (2000 rows", "create table site_probe_state",
		"rebuild rollups and site_probe_state from 2000 raw rows", "record schema version 3"} {
		if !contains(rep.Actions, want) {
			t.Errorf("actions %q lack %q", rep.Actions, want)
		}
	}
	if !contains(progress, "building index website_status_phase1_check_id_timestamp_utc_key") || !contains(progress, "website_status: 2000 rows") {
		t.Errorf("progress %q does not tell the steps", progress)
	}
	if got := fixture.RowsDigest(t, db); got != digest {
		t.Errorf("rows changed by the conversion: digest %s, want %s", got, digest)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_phase1"); n != 2000 {
		t.Errorf("website_status_phase1 has %d rows, want 2000", n)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM pg_class WHERE relname = 'website_status' AND relkind = 'p'"); n != 1 {
		t.Error("website_status is not partitioned")
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE probe <> 'default' OR host <> ''"); n != 0 {
		t.Errorf("%d old rows have a probe other than default or a host", n)
	}
	if err := schema.CheckSync(ctx, db.SQL()); err != nil {
		t.Errorf("CheckSchema after the conversion: %v", err)
	}
	fixture.CompareRollups(t, "hourly", fixture.StoredRollups(t, db, false), fixture.ExpectedRollups(t, db, false))
	fixture.CompareRollups(t, "daily", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	fixture.CheckState(t, db)

	// sync's writes: a new result, and an old check again, which is refused.
	var old contract.Result
	var info []byte
	if err := db.SQL().QueryRowContext(ctx, "SELECT request_info FROM website_status ORDER BY timestamp_utc LIMIT 1").Scan(&info); err != nil {
		t.Fatal(err)
	}
	if old, err = contract.Decode(nil, info); err != nil {
		t.Fatal(err)
	}
	n, err := db.InsertResults(ctx, []contract.Result{old, newResult(1, time.Now(), true, 200, 5)})
	if err != nil || n != 1 {
		t.Errorf("InsertResults after the conversion = %d, %v; want 1 (the old check refused)", n, err)
	}

	again := mustMigrate(t, db, schema.MigrateOptions{})
	if !again.UpToDate() {
		t.Errorf("second migrate: actions %q, problems %q", again.Actions, again.Problems)
	}
}

// TestMigrateConvertsPhase1AfterInterruptions: what interrupted runs leave
// behind — an invalid index of the name the conversion uses (a CREATE INDEX
// CONCURRENTLY that failed) and a range CHECK of other bounds — leaves the
// version 1 table writable the old way, and the next run completes the
// conversion. A run interrupted after the conversion but before the rollup
// rebuild leaves version 1 recorded; the next run rebuilds and records 2.
func TestMigrateConvertsPhase1AfterInterruptions(t *testing.T) {
	db := phase1DB(t)
	ctx := testContext(t)
	// An index build that failed leaves an invalid index.
	if _, err := db.SQL().ExecContext(ctx, "CREATE UNIQUE INDEX CONCURRENTLY website_status_phase1_check_id_timestamp_utc_key ON website_status (up)"); err == nil {
		t.Fatal("a unique index on up was built")
	}
	fixture.Exec(t, db, "ALTER TABLE website_status ADD CONSTRAINT website_status_phase1_bounds CHECK (timestamp_utc > '2000-01-01') NOT VALID")
	fixture.Exec(t, db, `INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason)
		VALUES (1, now(), '{}', gen_random_uuid(), true, 'ok')`)
	digest := fixture.RowsDigest(t, db)

	rep := mustMigrate(t, db, schema.MigrateOptions{})
	if len(rep.Problems) > 0 || !contains(rep.Actions, "attach website_status_phase1 (2001 rows") {
		t.Fatalf("migrate after an interrupted one: actions %q, problems %q", rep.Actions, rep.Problems)
	}
	if got := fixture.RowsDigest(t, db); got != digest {
		t.Errorf("rows changed by the conversion")
	}

	// Interrupted between the conversion's commit and the rebuild.
	fixture.Exec(t, db, "DELETE FROM schema_version WHERE version = 3")
	fixture.Exec(t, db, "TRUNCATE website_status_hourly, website_status_daily, site_probe_state")
	rep = mustMigrate(t, db, schema.MigrateOptions{})
	if !contains(rep.Actions, "rebuild rollups and site_probe_state from 2001 raw rows") || !contains(rep.Actions, "record schema version 3") {
		t.Errorf("migrate after an interrupted rebuild: actions %q", rep.Actions)
	}
	fixture.CompareRollups(t, "hourly", fixture.StoredRollups(t, db, false), fixture.ExpectedRollups(t, db, false))
	fixture.CheckState(t, db)
}

// TestMigrateConvertsEmptyPhase1 drops an empty version 1 table and creates
// the partitioned one.
func TestMigrateConvertsEmptyPhase1(t *testing.T) {
	db := newDB(t)
	v1, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, string(v1))
	rep := mustMigrate(t, db, schema.MigrateOptions{})
	if !contains(rep.Actions, "drop the empty version 1 website_status") || len(rep.Problems) > 0 {
		t.Errorf("actions %q, problems %q", rep.Actions, rep.Problems)
	}
	if err := schema.CheckSync(context.Background(), db.SQL()); err != nil {
		t.Error(err)
	}
}

// TestMigrateFromVersion2 upgrades a database written by version 2, whose
// sync added every check to its day as well as to its hour
// (testdata/schema_v2.sql, from commit 152b2a1): migrate keeps every raw row,
// records version 3 and rebuilds the rollups, and from then on the days —
// merged from hours — count each check once, the old ones and those stored
// after the upgrade, late ones included.
func TestMigrateFromVersion2(t *testing.T) {
	db := newDB(t)
	ctx := testContext(t)
	v2, err := os.ReadFile("testdata/schema_v2.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, string(v2))
	fixture.Exec(t, db, "INSERT INTO schema_version (version) VALUES (2)")
	fixture.Exec(t, db, "INSERT INTO websites (url, check_interval) SELECT 'https://site' || i || '.example/', 60 FROM generate_series(1, 3) i")
	now := time.Now().UTC()
	if _, err := db.EnsurePartitions(ctx, now.Add(-11*24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, `
		INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms, probe, host)
		SELECT w, at, jsonb_build_object('v', 1, 'check_id', id, 'website_id', w, 'probe', 'eu', 'host', 'h'),
		       id, up, CASE WHEN up THEN 'ok' ELSE 'http_status' END, CASE WHEN up THEN 200 ELSE 503 END, rt, 'eu', 'h'
		FROM (SELECT 1 + i % 3 AS w, now() - make_interval(mins => i * 7) AS at, gen_random_uuid() AS id,
		             i % 9 <> 0 AS up, (i % 400 + 1)::real / 4 AS rt
		      FROM generate_series(0, 1999) i) s`)
	// The rollups as version 2 left them: every row in its hour and its day.
	for _, q := range []string{
		`INSERT INTO website_status_hourly (website_id, probe, hour, checks, up_checks)
		 SELECT website_id, probe, date_trunc('hour', timestamp_utc, 'UTC'), count(*), count(*) FILTER (WHERE up) FROM website_status GROUP BY 1, 2, 3`,
		`INSERT INTO website_status_daily (website_id, probe, day, checks, up_checks)
		 SELECT website_id, probe, (timestamp_utc AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE up) FROM website_status GROUP BY 1, 2, 3`,
	} {
		fixture.Exec(t, db, q)
	}
	digest := fixture.RowsDigest(t, db)
	lastHour := mustTime(t, db, "SELECT max(hour) FROM website_status_hourly")

	rep := mustMigrate(t, db, schema.MigrateOptions{})
	if len(rep.Problems) > 0 || !contains(rep.Actions, "create table rollup_fold") ||
		!contains(rep.Actions, "rebuild rollups and site_probe_state from 2000 raw rows") || !contains(rep.Actions, "record schema version 3") {
		t.Fatalf("migrate: actions %q, problems %q", rep.Actions, rep.Problems)
	}
	if got := fixture.RowsDigest(t, db); got != digest {
		t.Errorf("rows changed by the upgrade")
	}
	if got := mustTime(t, db, "SELECT folded_hour FROM rollup_fold"); !got.Equal(lastHour.Add(time.Hour)) {
		t.Errorf("folded_hour %s, want %s (the hour after the last hourly row)", got, lastHour.Add(time.Hour))
	}
	fixture.CompareRollups(t, "hourly after the upgrade", fixture.StoredRollups(t, db, false), fixture.ExpectedRollups(t, db, false))
	fixture.CompareRollups(t, "days after the upgrade", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))

	// Checks stored after the upgrade: one now, one late (in a merged hour).
	late := newResult(1, lastHour.Add(-5*time.Hour+time.Minute), false, 503, 12)
	fresh := newResult(2, now, true, 200, 7)
	if _, err := db.InsertResults(ctx, []contract.Result{late, fresh}); err != nil {
		t.Fatal(err)
	}
	fixture.FoldRollups(t, db, now.Add(3*time.Hour))
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_hourly WHERE hour >= (SELECT folded_hour FROM rollup_fold)"); n != 0 {
		t.Errorf("%d hourly rows left to merge", n)
	}
	fixture.CompareRollups(t, "days after new checks and a merge", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	fixture.CheckState(t, db)

	// A version 2 sync left running writes every check to its day too: refused.
	_, err = db.SQL().ExecContext(ctx, `INSERT INTO website_status_daily AS t (website_id, probe, day, checks, up_checks)
		VALUES (1, 'eu', current_date, 1, 1)
		ON CONFLICT (website_id, probe, day) DO UPDATE SET checks = t.checks + 1, up_checks = t.up_checks + 1`)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || !strings.Contains(err.Error(), "website_status_daily is written only by sitestat with schema version 3 or later") {
		t.Errorf("a version 2 write of a daily row: %v, want it refused", err)
	} else if pqErr.Code != "55000" {
		// Not a class version 2's sync dead-letters (22, 23) or gives up on
		// (42): it retries the batch, and logs this error, until stopped.
		t.Errorf("refused with SQLSTATE %s, want 55000", pqErr.Code)
	}
	fixture.CompareRollups(t, "days after a version 2 write", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
}

func mustTime(t *testing.T, db *store.DB, q string) time.Time {
	t.Helper()
	var at time.Time
	if err := db.SQL().QueryRowContext(testContext(t), q).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at.UTC()
}
