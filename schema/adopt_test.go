package schema_test

import (
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// TestMigrateAdoptsBriefDatabase: `migrate` alone adopts the brief's tables
// holding rows of an earlier tool in several shapes: each storable row keeps
// its request_info (as jsonb) and gets a check_id, probe legacy and derived
// typed columns; rows sitestat cannot store move untouched to
// website_status_rejected and are counted; the rollups include the adopted
// rows; old rows get a note about the raw retention.
func TestMigrateAdoptsBriefDatabase(t *testing.T) {
	db := newDB(t)
	ctx := testContext(t)
	ddl, err := os.ReadFile("testdata/brief.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Exec(t, db, string(ddl))
	fixture.Exec(t, db, "INSERT INTO websites (url) VALUES ('https://a.example/'), ('https://b.example/')")
	now := time.Now().UTC().Truncate(time.Second)
	type legacy struct {
		site   any // nil for NULL
		ago    time.Duration
		info   any // nil for NULL
		up     bool
		reason string
		code   any // nil for NULL
		rt     any // nil for NULL
	}
	rows := []legacy{
		{1, time.Hour, `{"status_code": 200, "response_time": 0.12}`, true, "ok", 200, 120},
		{1, 2 * time.Hour, `{"status_code": 503, "response_time": 1.5}`, false, "http_status", 503, 1500},
		{2, 3 * time.Hour, `{"status": "404"}`, false, "http_status", 404, nil},
		{2, 4 * time.Hour, `{"up": true, "elapsed": "fast"}`, true, "ok", nil, nil},
		{2, 5 * time.Hour, `{"error": "timed out"}`, false, "unknown", nil, nil},
		{1, 6 * time.Hour, `{"v": 1, "check_id": "6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11", "up": false, "reason": "timeout", "status_code": null, "response_time_ms": 10000}`,
			false, "timeout", nil, 10000},
		{1, 30 * 24 * time.Hour, `[1, 2, 3]`, false, "unknown", nil, nil}, // old, and not an object
		// Rejected:
		{1, 7 * time.Hour, `{"note": "nul \u0000 byte"}`, false, "", nil, nil},
		{nil, 8 * time.Hour, `{"status_code": 200}`, false, "", nil, nil},
		{2, 9 * time.Hour, nil, false, "", nil, nil},
	}
	for _, r := range rows {
		fixture.Exec(t, db, "INSERT INTO website_status (website_id, timestamp_utc, request_info) VALUES ($1, $2, $3)",
			r.site, now.Add(-r.ago), r.info)
	}

	rep, err := schema.Migrate(ctx, db, schemaSQL(t), schema.MigrateOptions{RawRetention: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Lines() {
		t.Log(l)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("problems: %q", rep.Problems)
	}
	for _, want := range []string{"adopt the brief's website_status: 7 legacy rows kept",
		"move 3 legacy rows sitestat cannot store to website_status_rejected, untouched (1 with no website_id, 1 with no request_info or timestamp, 1 that jsonb cannot hold)",
		"attach website_status_phase1 (7 rows", "rebuild rollups and site_probe_state from 7 raw rows", "record schema version 3"} {
		if !contains(rep.Actions, want) {
			t.Errorf("actions lack %q", want)
		}
	}
	if len(rep.Notes) != 1 || !contains(rep.Notes, "1 adopted rows are older than the raw retention") {
		t.Errorf("notes = %q, want one about the old row", rep.Notes)
	}
	if err := schema.CheckSync(ctx, db.SQL()); err != nil {
		t.Errorf("CheckSchema: %v", err)
	}

	for _, r := range rows[:7] {
		var (
			same, up      bool
			reason, probe string
			code          sql.NullInt64
			rt            sql.NullFloat64
			checkID       string
		)
		err := db.SQL().QueryRowContext(ctx, `
			SELECT request_info = $3::jsonb, up, reason, status_code, response_time_ms, probe, check_id
			FROM website_status WHERE website_id = $1 AND timestamp_utc = $2`, r.site, now.Add(-r.ago), r.info).
			Scan(&same, &up, &reason, &code, &rt, &probe, &checkID)
		if err != nil {
			t.Errorf("row %s: %v", r.info, err)
			continue
		}
		wantCode := sql.NullInt64{}
		if r.code != nil {
			wantCode = sql.NullInt64{Int64: int64(r.code.(int)), Valid: true}
		}
		wantRT := sql.NullFloat64{}
		if r.rt != nil {
			wantRT = sql.NullFloat64{Float64: float64(r.rt.(int)), Valid: true}
		}
		if !same || up != r.up || reason != r.reason || code != wantCode || rt != wantRT || probe != "legacy" {
			t.Errorf("row %s: same=%t up=%t reason=%s code=%v rt=%v probe=%s; want up=%t reason=%s code=%v rt=%v probe legacy",
				r.info, same, up, reason, code, rt, probe, r.up, r.reason, wantCode, wantRT)
		}
		if r.reason == "timeout" && checkID != "6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11" {
			t.Errorf("the sitestat-shaped row got check_id %s, want its own", checkID)
		}
	}
	if n := fixture.Count(t, db, "SELECT count(DISTINCT check_id) FROM website_status"); n != 7 {
		t.Errorf("%d distinct check ids, want 7", n)
	}
	// The rejected rows, untouched, with why.
	for _, r := range rows[7:] {
		q := "SELECT count(*) FROM website_status_rejected WHERE timestamp_utc = $1 AND website_id IS NOT DISTINCT FROM $2 AND request_info::text IS NOT DISTINCT FROM $3"
		if n := fixture.Count(t, db, q, now.Add(-r.ago), r.site, r.info); n != 1 {
			t.Errorf("rejected row %v: found %d times", r.info, n)
		}
	}
	var days int64
	for _, r := range fixture.StoredRollups(t, db, true) {
		days += r.Checks
	}
	if days != 7 {
		t.Errorf("daily rollups count %d checks, want 7", days)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM site_probe_state WHERE probe = 'legacy'"); n != 2 {
		t.Errorf("site_probe_state has %d legacy rows, want 2", n)
	}
	if again := mustMigrate(t, db, schema.MigrateOptions{}); !again.UpToDate() {
		t.Errorf("second migrate: %q %q", again.Actions, again.Problems)
	}
}
