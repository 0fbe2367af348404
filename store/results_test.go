package store_test

import (
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/testutil/fixture"
)

func TestInsertResultsRoundTrip(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	code := 301
	matched := true
	notAfter := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	full := contract.Result{
		V: contract.Version, CheckID: "6f1c5a52-1d3e-4b8e-9f59-0c7d2a6b9e11", WebsiteID: id,
		URL: "https://example.com/", CheckedAt: time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC),
		Probe: "probe-1", Up: true, Reason: contract.ReasonOK, StatusCode: &code, ResponseTimeMs: 123.25,
		PhasesMs:  contract.Phases{DNSMs: 1.5, ConnectMs: 2.5, TLSMs: 3.5, TTFBMs: 100.75, TransferMs: 15},
		Redirects: 2, FinalURL: "https://www.example.com/", BodyBytes: 4096, RegexMatched: &matched,
		TLSVersion: "TLS 1.3", CertNotAfter: &notAfter,
	}
	failed := newResult(id, time.Date(2025, 6, 7, 8, 9, 11, 0, time.UTC), false, 0, 10000)
	n, err := db.InsertResults(ctx, []contract.Result{full, failed})
	if err != nil {
		t.Fatalf("InsertResults: %v", err)
	}
	if n != 2 {
		t.Fatalf("inserted %d, want 2", n)
	}

	for _, want := range []contract.Result{full, failed} {
		var (
			websiteID  int64
			ts         time.Time
			info       []byte
			up         bool
			reason     string
			statusCode sql.NullInt64
			rt         float64
		)
		err := db.SQL().QueryRowContext(ctx, `SELECT website_id, timestamp_utc, request_info, up, reason, status_code, response_time_ms
			FROM website_status WHERE check_id = $1`, want.CheckID).
			Scan(&websiteID, &ts, &info, &up, &reason, &statusCode, &rt)
		if err != nil {
			t.Fatalf("read %s: %v", want.CheckID, err)
		}
		got, err := contract.Decode(nil, info)
		if err != nil {
			t.Fatalf("decode request_info: %v", err)
		}
		got.Raw = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request_info round trip:\n got %+v\nwant %+v", got, want)
		}
		if websiteID != want.WebsiteID || up != want.Up || reason != string(want.Reason) ||
			!ts.Equal(want.CheckedAt.Round(time.Microsecond)) || float32(rt) != float32(want.ResponseTimeMs) {
			t.Errorf("typed columns = %d %s %t %s %v, want %d %s %t %s %v", websiteID, ts, up, reason, rt,
				want.WebsiteID, want.CheckedAt, want.Up, want.Reason, want.ResponseTimeMs)
		}
		switch {
		case want.StatusCode == nil && statusCode.Valid:
			t.Errorf("status_code = %d, want NULL", statusCode.Int64)
		case want.StatusCode != nil && (!statusCode.Valid || statusCode.Int64 != int64(*want.StatusCode)):
			t.Errorf("status_code = %v, want %d", statusCode, *want.StatusCode)
		}
	}
}

func TestInsertResultsDuplicates(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	now := time.Now()
	a, b, c := newResult(id, now, true, 200, 1), newResult(id, now, true, 200, 2), newResult(id, now, true, 200, 3)

	tests := []struct {
		name  string
		batch []contract.Result
		want  int
	}{
		{"a new batch with a duplicate inside", []contract.Result{a, b, a}, 2},
		{"the same batch again", []contract.Result{a, b, a}, 0},
		{"one new among stored ones", []contract.Result{b, c, a, c}, 1},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		n, err := db.InsertResults(ctx, tt.batch)
		if err != nil {
			t.Fatalf("%s: InsertResults: %v", tt.name, err)
		}
		if n != tt.want {
			t.Errorf("%s: inserted %d, want %d", tt.name, n, tt.want)
		}
	}
	if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != 3 {
		t.Errorf("website_status has %d rows, want 3", got)
	}
	if got := fixture.Count(t, db, "SELECT count(DISTINCT check_id) FROM website_status"); got != 3 {
		t.Errorf("website_status has %d distinct check_ids, want 3", got)
	}
}

func TestInsertResultsUnknownWebsite(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	now := time.Now()
	good, unknown := newResult(id, now, true, 200, 1), newResult(id+1000, now, true, 200, 1)
	for _, tt := range []struct {
		name  string
		batch []contract.Result
	}{
		{"straight COPY", []contract.Result{good, unknown}},
		{"staged after a duplicate", []contract.Result{good, good, unknown}},
	} {
		_, err := db.InsertResults(ctx, tt.batch)
		if err == nil {
			t.Fatalf("%s: InsertResults with an unknown website_id succeeded", tt.name)
		}
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || pqErr.SQLState() != "23503" {
			t.Fatalf("%s: InsertResults = %v, want a *pq.Error 23503", tt.name, err)
		}
		if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != 0 {
			t.Errorf("%s: a failed batch stored %d rows, want 0", tt.name, got)
		}
	}
	// The connections are still usable, their staging tables empty.
	for _, batch := range [][]contract.Result{{good}, {good, newResult(id, now, true, 200, 1)}} {
		if _, err := db.InsertResults(ctx, batch); err != nil {
			t.Fatalf("InsertResults after a failure: %v", err)
		}
	}
	if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != 2 {
		t.Errorf("website_status has %d rows, want 2", got)
	}
}

func TestWebsitesExist(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	a := fixture.AddSite(t, db, "https://a.example/")
	b := fixture.AddSite(t, db, "https://b.example/")
	ids, err := db.WebsiteIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]struct{}{a: {}, b: {}}; !reflect.DeepEqual(ids, want) {
		t.Errorf("WebsiteIDs = %v, want %v", ids, want)
	}
	exist, err := db.WebsitesExist(ctx, []int64{a, b + 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]bool{a: true, b + 100: false}; !reflect.DeepEqual(exist, want) {
		t.Errorf("WebsitesExist = %v, want %v", exist, want)
	}
}
