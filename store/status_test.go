package store_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

func TestStatus(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	a := fixture.AddSite(t, db, "https://a.example/")
	b := fixture.AddSite(t, db, "https://b.example/") // never checked
	c := fixture.AddSite(t, db, "https://c.example/") // checked before the window only
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	window := time.Hour

	results := []contract.Result{
		newResult(a, now.Add(-2*time.Hour), false, 500, 5000),  // before the window
		newResult(a, now.Add(-window), false, 500, 5000),       // on the lower bound, an hour's start: included
		newResult(a, now.Add(-50*time.Minute), true, 200, 100), //
		newResult(a, now.Add(-30*time.Minute), false, 503, 300),
		newResult(a, now.Add(-10*time.Minute), false, 0, 400), // a timeout: no status code
		newResult(a, now, true, 200, 200),                     // on the upper bound: included, the last
		newResult(c, now.Add(-3*time.Hour), false, 0, 10000),
	}
	other := newResult(a, now.Add(-5*time.Minute), true, 200, 150)
	other.Probe = "us"
	results = append(results, other)
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
	if sa.Checks != 6 {
		t.Errorf("a: checks = %d, want 6", sa.Checks)
	}
	if sa.UptimePct == nil || math.Abs(*sa.UptimePct-50) > 1e-9 {
		t.Errorf("a: uptime = %v, want 50", deref(sa.UptimePct))
	}
	// The nearest-rank p95 of 100, 150, 200, 300, 400, 5000 is 5000, read
	// from the histogram within 5%.
	if sa.P95ResponseMs == nil || math.Abs(*sa.P95ResponseMs-5000)/5000 > 0.05 {
		t.Errorf("a: p95 = %v, want 5000 within 5%%", deref(sa.P95ResponseMs))
	}
	if l := sa.Last; l == nil || !l.Up || l.Reason != contract.ReasonOK || l.StatusCode == nil || *l.StatusCode != 200 ||
		l.ResponseTimeMs == nil || *l.ResponseTimeMs != 200 || !l.CheckedAt.Equal(now) {
		t.Errorf("a: last = %+v, want up 200 in 200 ms at %s", l, now)
	}
	if len(sa.Probes) != 2 || sa.Probes[0].Probe != "test" || sa.Probes[1].Probe != "us" ||
		!sa.Probes[1].Last.CheckedAt.Equal(other.CheckedAt) || sa.Stale || sa.Probes[0].Stale {
		t.Errorf("a: probes = %+v, stale %t; want test (now) and us (5 min ago), none stale", sa.Probes, sa.Stale)
	}

	sb := sts[1]
	if sb.Last != nil || sb.Checks != 0 || sb.UptimePct != nil || sb.P95ResponseMs != nil || sb.Stale {
		t.Errorf("never checked b = %+v, want no last, no checks, nil uptime and p95, not stale", sb)
	}

	sc := sts[2]
	if sc.Checks != 0 || sc.UptimePct != nil || sc.P95ResponseMs != nil {
		t.Errorf("c = %+v, want no checks in the window", sc)
	}
	if l := sc.Last; l == nil || l.Up || l.Reason != contract.ReasonTimeout || l.StatusCode != nil ||
		!l.CheckedAt.Equal(now.Add(-3*time.Hour)) || l.Error != "failed" {
		t.Errorf("c: last = %+v, want the timeout 3 h ago", l)
	}
	if !sc.Stale {
		t.Error("c, last checked 3 h ago every minute, is not stale")
	}
}

// TestStatusWindows: over long windows (read from daily rows and the hours
// around them) the counts equal the raw rows' since the window's first hour.
func TestStatusWindows(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://a.example/")
	now := time.Date(2025, 6, 1, 12, 34, 0, 0, time.UTC)
	var rs []contract.Result
	for m := 0; m < 40*24*60; m += 97 {
		rs = append(rs, newResult(id, now.Add(-time.Duration(m)*time.Minute), m%7 != 0, 200, float64(m%500)+1))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for _, w := range []time.Duration{time.Hour, 5 * time.Hour, 24 * time.Hour, 36 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		sts, err := db.Status(ctx, w, now)
		if err != nil {
			t.Fatal(err)
		}
		from := now.Add(-w).Truncate(time.Hour)
		want := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE timestamp_utc >= $1 AND timestamp_utc <= $2", from, now)
		wantUp := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE up AND timestamp_utc >= $1 AND timestamp_utc <= $2", from, now)
		if sts[0].Checks != want || sts[0].UptimePct == nil || math.Abs(*sts[0].UptimePct-100*float64(wantUp)/float64(want)) > 1e-9 {
			t.Errorf("window %s: %d checks, uptime %v; want %d, %d up", w, sts[0].Checks, deref(sts[0].UptimePct), want, wantUp)
		}
		if sts[0].P95ResponseMs == nil {
			t.Errorf("window %s: no p95", w)
		}
	}
	// The p95 of a cached window covers whole days from the start's midnight.
	from := now.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour)
	rows, err := db.SQL().QueryContext(ctx, "SELECT response_time_ms FROM website_status WHERE timestamp_utc >= $1 AND timestamp_utc <= $2", from, now)
	if err != nil {
		t.Fatal(err)
	}
	h := store.Histogram{}
	for rows.Next() {
		var v float64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		h.Add(float64(float32(v)))
	}
	rows.Close()
	want95, _ := h.Quantile(0.95)
	if sts, err := db.Status(ctx, 30*24*time.Hour, now); err != nil || sts[0].P95ResponseMs == nil || *sts[0].P95ResponseMs != want95 {
		t.Errorf("30 d p95 = %v (%v), want %v", deref(sts[0].P95ResponseMs), err, want95)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_window WHERE website_id = $1", id); n != 2 {
		t.Errorf("website_status_window has %d rows for the 7 and 30 day windows, want 2", n)
	}
	// A late result for a past day drops the cached windows, so the next
	// status counts it.
	before, err := db.Status(ctx, 30*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertResults(ctx, []contract.Result{newResult(id, now.Add(-10*24*time.Hour+time.Second), false, 500, 99999)}); err != nil {
		t.Fatal(err)
	}
	after, err := db.Status(ctx, 30*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Checks != before[0].Checks+1 {
		t.Errorf("after a late result 30 d has %d checks, want %d", after[0].Checks, before[0].Checks+1)
	}
}

// TestSiteDetail: settings, per-probe state, four windows, 90 days with the
// right counts, and the last 10 failed checks newest first.
func TestSiteDetail(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://a.example/")
	now := time.Now().UTC()
	var rs []contract.Result
	for h := 0; h < 20*24; h += 2 {
		rs = append(rs, newResult(id, now.Add(-time.Duration(h)*time.Hour), h%10 != 0, 200, float64(h)+10))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	d, err := db.SiteDetail(ctx, id, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.URL != "https://a.example/" || len(d.Probes) != 1 || len(d.Windows) != 4 || len(d.Days) != 90 {
		t.Fatalf("detail = %+v", d)
	}
	var total int64
	for _, day := range d.Days {
		total += day.Checks
		want := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE timestamp_utc >= $1 AND timestamp_utc < $2",
			day.Day, day.Day.Add(24*time.Hour))
		if day.Checks != want {
			t.Errorf("day %s: %d checks, want %d", day.Day.Format("2006-01-02"), day.Checks, want)
		}
		if day.Checks > 0 && (day.P50Ms == nil || day.P95Ms == nil || *day.P50Ms > *day.P95Ms) {
			t.Errorf("day %s: p50 %v p95 %v", day.Day, deref(day.P50Ms), deref(day.P95Ms))
		}
	}
	if total != int64(len(rs)) || !d.Days[89].Day.Equal(now.Truncate(24*time.Hour)) {
		t.Errorf("days hold %d checks, want %d; last day %s", total, len(rs), d.Days[89].Day)
	}
	if d.Windows[3].Checks != int64(len(rs)) {
		t.Errorf("90 d window: %d checks, want %d", d.Windows[3].Checks, len(rs))
	}
	if len(d.Failed) != 10 {
		t.Fatalf("%d failed checks, want 10", len(d.Failed))
	}
	for i, f := range d.Failed {
		if want := now.Add(-time.Duration(10*i) * time.Hour).Round(time.Microsecond); !f.CheckedAt.Equal(want) || f.Error != "failed" || f.Reason != contract.ReasonHTTPStatus {
			t.Errorf("failed[%d] = %+v, want the failure at %s", i, f, want)
		}
	}
	if _, err := db.SiteDetail(ctx, id+100, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SiteDetail of no site = %v, want ErrNotFound", err)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestAvailabilityFromIncidents: a site's availability over a window is
// 1 − (time in its down incidents ÷ the window since the site was added),
// open incidents counting up to now and those straddling the window's start
// only from it; a site with alerting off has none.
func TestAvailabilityFromIncidents(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Second)
	old := fixture.AddSite(t, db, "https://old.example/")
	young := fixture.AddSite(t, db, "https://young.example/")
	quiet := fixture.AddSite(t, db, "https://quiet.example/")
	fixture.Exec(t, db, "UPDATE websites SET created_at = $1 WHERE id = $2", now.Add(-48*time.Hour), old)
	fixture.Exec(t, db, "UPDATE websites SET created_at = $1 WHERE id = $2", now.Add(-6*time.Hour), young)
	fixture.Exec(t, db, "UPDATE websites SET created_at = $1, alert_after = 0 WHERE id = $2", now.Add(-48*time.Hour), quiet)
	var rs []contract.Result
	for _, id := range []int64{old, young, quiet} {
		rs = append(rs, newResult(id, now.Add(-time.Minute), true, 200, 10))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	incident := func(id int64, from, until time.Duration) {
		t.Helper()
		var resolved any
		if until != 0 {
			resolved = now.Add(-until)
		}
		fixture.Exec(t, db, "INSERT INTO incidents (website_id, kind, started_at, resolved_at, reason, probes) VALUES ($1, 'down', $2, $3, 'timeout', '{eu,us}')",
			id, now.Add(-from), resolved)
	}
	incident(old, 30*time.Hour, 26*time.Hour) // before the window
	incident(old, 25*time.Hour, 23*time.Hour) // one hour of it inside
	incident(old, 5*time.Hour, 4*time.Hour)
	incident(old, 30*time.Minute, 0) // open
	incident(young, 3*time.Hour, 0)
	incident(quiet, 2*time.Hour, 1*time.Hour) // by hand: alerting is off

	sts, err := db.Status(ctx, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct {
		avail *float64
		down  time.Duration
	}{
		old:   {ptr(100 * (1 - 2.5/24)), 150 * time.Minute},
		young: {ptr(50.0), 3 * time.Hour},
		quiet: {nil, time.Hour},
	}
	for _, s := range sts {
		w := want[s.ID]
		if s.Downtime != w.down {
			t.Errorf("site %d: downtime %s, want %s", s.ID, s.Downtime, w.down)
		}
		switch {
		case w.avail == nil && s.AvailabilityPct != nil:
			t.Errorf("site %d: availability %.4f%%, want none (alerting off)", s.ID, *s.AvailabilityPct)
		case w.avail != nil && (s.AvailabilityPct == nil || math.Abs(*s.AvailabilityPct-*w.avail) > 1e-6):
			t.Errorf("site %d: availability %v, want %.4f%%", s.ID, fmtPtr(s.AvailabilityPct), *w.avail)
		}
		if s.UptimePct == nil || *s.UptimePct != 100 {
			t.Errorf("site %d: uptime of checks %v, want 100%% (its one check was up)", s.ID, fmtPtr(s.UptimePct))
		}
	}
	d, err := db.SiteDetail(ctx, old, now)
	if err != nil {
		t.Fatal(err)
	}
	if w := d.Windows[1]; w.Downtime != 7*time.Hour+30*time.Minute {
		t.Errorf("7d window: downtime %s, want 7h30m (every incident)", w.Downtime)
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%.4f%%", *v)
}

// TestSiteDetailUptimePerProbe: status ID gives each window's uptime per
// probe, from the rollups, hours merged into days or not.
func TestSiteDetailUptimePerProbe(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	now := time.Now().UTC()
	id := fixture.AddSite(t, db, "https://probes.example/")
	var rs []contract.Result
	for i := range 40 { // every 3 hours over 5 days: eu always up, us down one check in four
		at := now.Add(-time.Duration(i) * 3 * time.Hour)
		eu := newResult(id, at, true, 200, 10)
		eu.Probe = "eu"
		us := newResult(id, at.Add(time.Second), i%4 != 0, 200, 10)
		us.Probe = "us"
		rs = append(rs, eu, us)
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	fixture.FoldRollups(t, db, now)
	d, err := db.SiteDetail(ctx, id, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range d.Windows {
		var euChecks, usChecks, usUp int64
		for _, r := range rs {
			if r.CheckedAt.Before(now.Add(-w.Window).Truncate(time.Hour)) {
				continue
			}
			if r.Probe == "eu" {
				euChecks++
			} else {
				usChecks++
				if r.Up {
					usUp++
				}
			}
		}
		if len(w.Probes) != 2 || w.Probes[0].Probe != "eu" || w.Probes[1].Probe != "us" {
			t.Fatalf("%s: probes %+v, want eu and us", w.Window, w.Probes)
		}
		eu, us := w.Probes[0], w.Probes[1]
		if eu.Checks != euChecks || eu.UptimePct == nil || *eu.UptimePct != 100 {
			t.Errorf("%s: eu %d checks, uptime %s; want %d, 100%%", w.Window, eu.Checks, fmtPtr(eu.UptimePct), euChecks)
		}
		want := 100 * float64(usUp) / float64(usChecks)
		if us.Checks != usChecks || us.UptimePct == nil || math.Abs(*us.UptimePct-want) > 1e-9 {
			t.Errorf("%s: us %d checks, uptime %s; want %d, %.4f%%", w.Window, us.Checks, fmtPtr(us.UptimePct), usChecks, want)
		}
	}
}

// TestWarmWindows: sync's daily fill of the long windows' cache makes
// `status` read one cached row per window, with the counts it would have
// computed from the days.
func TestWarmWindows(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://warm.example/")
	now := time.Date(2025, 6, 1, 12, 34, 0, 0, time.UTC)
	var rs []contract.Result
	for m := 0; m < 95*24*60; m += 331 {
		rs = append(rs, newResult(id, now.Add(-time.Duration(m)*time.Minute), m%5 != 0, 200, float64(m%300)+1))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	fixture.FoldRollups(t, db, now)
	if err := db.WarmWindows(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_window WHERE website_id = $1 AND through = $2", id, now.Truncate(24*time.Hour)); n != 3 {
		t.Errorf("website_status_window has %d rows through today, want 3 (7, 30, 90 days)", n)
	}
	for _, w := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour} {
		sts, err := db.Status(ctx, w, now)
		if err != nil {
			t.Fatal(err)
		}
		sums, err := db.SiteSummaries(ctx, []int64{id}, w, 0, now) // reads the days, never the cache
		if err != nil {
			t.Fatal(err)
		}
		want := sums[id].Window
		if sts[0].Checks != want.Checks || sts[0].Checks == 0 || deref(sts[0].UptimePct) != deref(want.UptimePct) {
			t.Errorf("%s: cached %d checks, uptime %v; from the days %d, %v", w, sts[0].Checks, deref(sts[0].UptimePct), want.Checks, deref(want.UptimePct))
		}
	}
}
