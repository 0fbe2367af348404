package store_test

import (
	"math"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
)

func TestStatus(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	a := mustAddSite(t, db, "https://a.example/")
	b := mustAddSite(t, db, "https://b.example/") // never checked
	c := mustAddSite(t, db, "https://c.example/") // checked before the window only
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	window := time.Hour

	results := []checker.Result{
		newResult(a, now.Add(-2*time.Hour), false, 500, 5000), // before the window
		newResult(a, now.Add(-window), false, 500, 5000),      // on the lower bound: excluded
		newResult(a, now.Add(-50*time.Minute), true, 200, 100),
		newResult(a, now.Add(-30*time.Minute), false, 503, 300),
		newResult(a, now.Add(-10*time.Minute), false, 0, 400), // a timeout: no status code
		newResult(a, now, true, 200, 200),                     // on the upper bound: included, the last
		newResult(c, now.Add(-3*time.Hour), false, 0, 10000),
	}
	if _, err := db.InsertResults(ctx, results); err != nil {
		t.Fatal(err)
	}
	sts, err := db.Status(ctx, window, now)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(sts) != 3 || sts[0].ID != a || sts[1].ID != b || sts[2].ID != c {
		t.Fatalf("Status returned %+v, want sites %d, %d, %d", sts, a, b, c)
	}

	sa := sts[0]
	if sa.URL != "https://a.example/" || sa.Interval != time.Minute {
		t.Errorf("site a = %q every %s", sa.URL, sa.Interval)
	}
	if sa.Checks != 4 {
		t.Errorf("a: checks = %d, want 4", sa.Checks)
	}
	if sa.UptimePct == nil || math.Abs(*sa.UptimePct-50) > 1e-9 {
		t.Errorf("a: uptime = %v, want 50", deref(sa.UptimePct))
	}
	// percentile_cont(0.95) of 100, 200, 300, 400: 300 + 0.85 × 100.
	if sa.P95ResponseMs == nil || math.Abs(*sa.P95ResponseMs-385) > 1e-6 {
		t.Errorf("a: p95 = %v, want 385", deref(sa.P95ResponseMs))
	}
	if l := sa.Last; l == nil || !l.Up || l.Reason != checker.ReasonOK || l.StatusCode == nil || *l.StatusCode != 200 ||
		l.ResponseTimeMs == nil || *l.ResponseTimeMs != 200 || !l.CheckedAt.Equal(now) {
		t.Errorf("a: last = %+v, want up 200 in 200 ms at %s", l, now)
	}

	sb := sts[1]
	if sb.Last != nil || sb.Checks != 0 || sb.UptimePct != nil || sb.P95ResponseMs != nil {
		t.Errorf("never checked b = %+v, want no last, no checks, nil uptime and p95", sb)
	}

	sc := sts[2]
	if sc.Checks != 0 || sc.UptimePct != nil || sc.P95ResponseMs != nil {
		t.Errorf("c = %+v, want no checks in the window", sc)
	}
	if l := sc.Last; l == nil || l.Up || l.Reason != checker.ReasonTimeout || l.StatusCode != nil || !l.CheckedAt.Equal(now.Add(-3*time.Hour)) {
		t.Errorf("c: last = %+v, want the timeout 3 h ago", l)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
