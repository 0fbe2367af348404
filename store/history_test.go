package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestRollupsEqualRawAggregates stores batches with duplicates inside a
// batch, whole redeliveries, partly redelivered batches, late results and a
// batch that fails (a crash mid-batch: nothing of it may count), then checks
// for every hour and day that the rollup equals the aggregate of the raw
// rows, that site_probe_state holds the latest row, and that a rebuild from
// the raw rows gives the same rollups.
func TestRollupsEqualRawAggregates(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	var sites []int64
	for i := range 4 {
		sites = append(sites, fixture.AddSite(t, db, fmt.Sprintf("https://site%d.example/", i)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	reasons := []contract.Reason{contract.ReasonHTTPStatus, contract.ReasonTimeout, contract.ReasonDNSError, "future_reason"}
	mk := func(at time.Time) contract.Result {
		site := sites[rng.IntN(len(sites))]
		up := rng.IntN(10) > 2
		code := 200
		if !up {
			code = 503
		}
		r := newResult(site, at, up, code, rng.ExpFloat64()*150+0.05)
		r.Probe = []string{"eu", "us"}[rng.IntN(2)]
		r.Host = fmt.Sprintf("host-%d", rng.IntN(3))
		if !up {
			r.Reason = reasons[rng.IntN(len(reasons))]
			if r.Reason != contract.ReasonHTTPStatus {
				r.StatusCode = nil
			}
		}
		return r
	}
	// Results over the last 30 hours, a few microseconds from an hour's end.
	var all []contract.Result
	for i := range 600 {
		at := now.Add(-30 * time.Hour).Add(time.Duration(i) * 3 * time.Minute)
		if i%50 == 0 {
			at = at.Truncate(time.Hour).Add(time.Hour - 400*time.Nanosecond) // rounds up into the next hour
		}
		all = append(all, mk(at))
	}
	insert := func(what string, batch []contract.Result, want int) {
		t.Helper()
		n, err := db.InsertResults(ctx, batch)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n != want {
			t.Errorf("%s: inserted %d, want %d", what, n, want)
		}
	}
	// Newest first, so that what follows is late.
	insert("recent batch", all[400:], 200)
	insert("the same batch redelivered", all[400:], 0)
	withDup := append(append([]contract.Result(nil), all[200:300]...), all[250], all[420])
	insert("a batch with a duplicate inside and one already stored", withDup, 100)
	// A crash mid-batch: the last row fails the batch, so none of it counts.
	bad := append(append([]contract.Result(nil), all[300:400]...), newResult(999999, now, true, 200, 1))
	if _, err := db.InsertResults(ctx, bad); err == nil {
		t.Fatal("a batch with an unknown website was stored")
	}
	insert("the failed batch's results again", all[300:400], 100)
	fixture.CompareRollups(t, "days before any merge", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	// The hours that ended an hour ago are merged into days; what comes
	// before them now (late results) updates both tables.
	if got, want := fixture.FoldRollups(t, db, now), now.Truncate(time.Hour).Add(-store.FoldGrace); !got.Equal(want) {
		t.Errorf("merged through %s, want %s", got, want)
	}
	fixture.CompareRollups(t, "days after a merge", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	insert("late results", all[:200], 200)
	insert("everything redelivered", all, 0)

	if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != int64(len(all)) {
		t.Fatalf("website_status has %d rows, want %d", got, len(all))
	}
	hourly, daily := fixture.StoredRollups(t, db, false), fixture.StoredRollups(t, db, true)
	fixture.CompareRollups(t, "hourly", hourly, fixture.ExpectedRollups(t, db, false))
	fixture.CompareRollups(t, "daily", daily, fixture.ExpectedRollups(t, db, true))
	fixture.CheckState(t, db)
	// Every hour merged: website_status_daily alone holds the days.
	fixture.FoldRollups(t, db, now.Add(3*time.Hour))
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_hourly WHERE hour >= (SELECT folded_hour FROM rollup_fold)"); n != 0 {
		t.Errorf("%d hourly rows left to merge", n)
	}
	fixture.CompareRollups(t, "daily table", fixture.StoredRollups(t, db, true), daily)

	// A rebuild from the raw rows gives the same rollups and state.
	fixture.Exec(t, db, "TRUNCATE website_status_hourly, website_status_daily, site_probe_state")
	rep, err := db.RebuildRollups(ctx, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != int64(len(all)) {
		t.Errorf("rebuild read %d rows, want %d", rep.Rows, len(all))
	}
	fixture.CompareRollups(t, "hourly after rebuild", fixture.StoredRollups(t, db, false), hourly)
	fixture.CompareRollups(t, "daily after rebuild", fixture.StoredRollups(t, db, true), daily)
	fixture.CheckState(t, db)
}

// TestLateResultKeepsState: a result older than the state's latest check is
// stored and counted in its own hour, but the state does not go back.
func TestLateResultKeepsState(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	now := time.Now().UTC()
	latest := newResult(id, now, true, 200, 10)
	late := newResult(id, now.Add(-3*time.Hour), false, 503, 20)
	for _, r := range []contract.Result{latest, late} {
		if _, err := db.InsertResults(ctx, []contract.Result{r}); err != nil {
			t.Fatal(err)
		}
	}
	var checkID string
	var up bool
	if err := db.SQL().QueryRowContext(ctx, "SELECT check_id, up FROM site_probe_state WHERE website_id = $1", id).
		Scan(&checkID, &up); err != nil {
		t.Fatal(err)
	}
	if checkID != latest.CheckID || !up {
		t.Errorf("state = %s up=%t, want the latest check %s up", checkID, up, latest.CheckID)
	}
	if n := fixture.Count(t, db, "SELECT checks FROM website_status_hourly WHERE website_id = $1 AND hour = $2",
		id, late.CheckedAt.Truncate(time.Hour)); n != 1 {
		t.Errorf("the late result's hour has %d checks, want 1", n)
	}
}

// TestPartitionDroppedByHand: a day partition dropped by hand is created
// again by the next insert, which succeeds.
func TestPartitionDroppedByHand(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	now := time.Now().UTC()
	if _, err := db.InsertResults(ctx, []contract.Result{newResult(id, now, true, 200, 1)}); err != nil {
		t.Fatal(err)
	}
	name := "website_status_" + now.Format("20060102")
	fixture.Exec(t, db, "DROP TABLE "+name)
	n, err := db.InsertResults(ctx, []contract.Result{newResult(id, now, true, 200, 1)})
	if err != nil || n != 1 {
		t.Fatalf("insert after the partition was dropped: %d, %v", n, err)
	}
	if got := fixture.Count(t, db, "SELECT count(*) FROM "+name); got != 1 {
		t.Errorf("%s has %d rows, want 1", name, got)
	}
}

// TestEnsurePartitions creates each missing day once, also when called
// concurrently, and skips days an existing partition covers.
func TestEnsurePartitions(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	from := time.Date(2024, 2, 27, 13, 0, 0, 0, time.UTC)
	to := time.Date(2024, 3, 2, 1, 0, 0, 0, time.UTC)
	errs := make(chan error, 3)
	created := make(chan []string, 3)
	for range 3 {
		go func() {
			c, err := db.EnsurePartitions(ctx, from, to)
			errs <- err
			created <- c
		}()
	}
	var names []string
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		names = append(names, <-created...)
	}
	sort.Strings(names)
	want := []string{"website_status_20240227", "website_status_20240228", "website_status_20240229",
		"website_status_20240301", "website_status_20240302"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("created %q, want %q", names, want)
	}
	parts, err := db.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Name == "website_status_20240229" &&
			(!p.From.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) || p.To.Sub(p.From) != 24*time.Hour) {
			t.Errorf("partition %+v, want 2024-02-29 for a day", p)
		}
	}
	if again, err := db.EnsurePartitions(ctx, from, to); err != nil || len(again) != 0 {
		t.Errorf("second call created %q, %v; want nothing", again, err)
	}
}

// TestPrune drops the raw partitions wholly older than the raw retention
// (without DELETE: the partitions are gone), keeps their rollups within
// the rollup retentions, deletes older rollup rows, reports exactly that in a
// dry run first, and skips while another process prunes.
func TestPrune(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	now := time.Now().UTC()
	var rs []contract.Result
	for h := 0; h < 12*24; h += 6 { // every 6 hours over 12 days
		rs = append(rs, newResult(id, now.Add(-time.Duration(h)*time.Hour), h%12 != 0, 200, float64(h)+1))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	fixture.FoldRollups(t, db, now)
	fixture.Exec(t, db, "ANALYZE website_status")
	ret := store.Retention{Raw: 7 * 24 * time.Hour, Hourly: 9 * 24 * time.Hour, Daily: 10 * 24 * time.Hour}
	rawCut := now.Add(-ret.Raw)
	wantParts := fixture.Count(t, db, `SELECT count(DISTINCT (timestamp_utc AT TIME ZONE 'UTC')::date) FROM website_status
		WHERE timestamp_utc < $1::timestamptz - interval '0' AND (timestamp_utc AT TIME ZONE 'UTC')::date < ($1::timestamptz AT TIME ZONE 'UTC')::date`, rawCut)
	wantRaw := fixture.Count(t, db, "SELECT count(*) FROM website_status WHERE timestamp_utc < date_trunc('day', $1::timestamptz, 'UTC')", rawCut)
	wantHourly := fixture.Count(t, db, "SELECT count(*) FROM website_status_hourly WHERE hour < $1", now.Add(-ret.Hourly).Truncate(time.Hour))
	wantDaily := fixture.Count(t, db, "SELECT count(*) FROM website_status_daily WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date", now.Add(-ret.Daily))
	if wantParts == 0 || wantHourly == 0 || wantDaily == 0 {
		t.Fatalf("test data has nothing to prune: %d partitions, %d hourly, %d daily", wantParts, wantHourly, wantDaily)
	}
	total := fixture.Count(t, db, "SELECT count(*) FROM website_status")

	dry, err := db.Prune(ctx, ret, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Partitions) != int(wantParts) || dry.HourlyRows != wantHourly || dry.DailyRows != wantDaily {
		t.Errorf("dry run: %d partitions, %d hourly, %d daily; want %d, %d, %d",
			len(dry.Partitions), dry.HourlyRows, dry.DailyRows, wantParts, wantHourly, wantDaily)
	}
	if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != total {
		t.Fatalf("dry run removed rows: %d, want %d", got, total)
	}

	// Another process pruning: this pass skips.
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(0x73697465707275)); err != nil {
		t.Fatal(err)
	}
	if rep, err := db.Prune(ctx, ret, now, false); err != nil || !rep.Skipped {
		t.Errorf("prune while locked = %+v, %v; want skipped", rep, err)
	}
	conn.Close()

	rep, err := db.Prune(ctx, ret, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Partitions) != int(wantParts) || rep.RawRows() != wantRaw || rep.HourlyRows != wantHourly || rep.DailyRows != wantDaily {
		t.Errorf("prune: %d partitions (~%d rows), %d hourly, %d daily; want %d (%d), %d, %d", len(rep.Partitions),
			rep.RawRows(), rep.HourlyRows, rep.DailyRows, wantParts, wantRaw, wantHourly, wantDaily)
	}
	for _, p := range rep.Partitions {
		if n := fixture.Count(t, db, "SELECT count(*) FROM pg_class WHERE relname = $1", p.Name); n != 0 {
			t.Errorf("partition %s still exists", p.Name)
		}
	}
	if got := fixture.Count(t, db, "SELECT count(*) FROM website_status"); got != total-wantRaw {
		t.Errorf("%d raw rows left, want %d", got, total-wantRaw)
	}
	// The rollups of the days dropped from raw are still there.
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status_daily WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date", rawCut); n == 0 {
		t.Error("the daily rollups of the pruned raw days are gone")
	}
	if again, err := db.Prune(ctx, ret, now, false); err != nil || len(again.Partitions) != 0 || again.HourlyRows != 0 || again.DailyRows != 0 {
		t.Errorf("second pass = %+v, %v; want nothing", again, err)
	}
}

// TestHistogramCompaction: many batches into one hour append to its
// histogram until it passes 48 elements, then merge; the counts stay exact.
func TestHistogramCompaction(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	id := fixture.AddSite(t, db, "https://example.com/")
	hour := time.Now().UTC().Truncate(time.Hour)
	want := store.Histogram{}
	for i := range 120 {
		ms := float64(10 + i%7)
		want.Add(float64(float32(ms)))
		if _, err := db.InsertResults(ctx, []contract.Result{newResult(id, hour.Add(time.Duration(i)*time.Second), true, 200, ms)}); err != nil {
			t.Fatal(err)
		}
	}
	var hist []int64
	if err := db.SQL().QueryRowContext(ctx, "SELECT rt_hist FROM website_status_hourly WHERE website_id = $1", id).Scan(pq.Array(&hist)); err != nil {
		t.Fatal(err)
	}
	if len(hist) > 48+1 {
		t.Errorf("histogram has %d elements, want at most 49", len(hist))
	}
	got := store.Histogram{}
	for _, e := range hist {
		got[int(e>>32)] += e & 0xffffffff
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("histogram = %v, want %v", got, want)
	}
}

// TestFoldWhileStoring merges hours into days, with a moving clock, while
// two writers store batches spread over the hours being merged: each check
// must end up in its day exactly once, whether its batch committed before,
// during or after the merge of its hour.
func TestFoldWhileStoring(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	var sites []int64
	for i := range 3 {
		sites = append(sites, fixture.AddSite(t, db, fmt.Sprintf("https://fold%d.example/", i)))
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-12 * time.Hour)
	const writers, batches, perBatch = 2, 30, 40
	var wg sync.WaitGroup
	var stored atomic.Int64
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for b := range batches {
				var rs []contract.Result
				for range perBatch {
					// Anywhere in the 12 hours: before, at and after the merge's edge.
					at := start.Add(time.Duration(rng.Int64N(int64(12 * time.Hour))))
					r := newResult(sites[rng.IntN(len(sites))], at, rng.IntN(4) > 0, 200, rng.Float64()*400+1)
					r.Probe = []string{"eu", "us"}[rng.IntN(2)]
					rs = append(rs, r)
				}
				if _, err := db.InsertResults(ctx, rs); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
				stored.Add(1)
			}
		})
	}
	wg.Go(func() {
		// The clock walks through the 12 hours as the batches are stored,
		// one merge per step.
		for h := 0; h <= 12; h++ {
			for int(stored.Load()) < h*writers*batches/13 && len(errs) == 0 {
				time.Sleep(time.Millisecond)
			}
			if _, err := db.FoldRollups(ctx, start.Add(time.Duration(h)*time.Hour+store.FoldGrace+time.Minute)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := fixture.Count(t, db, "SELECT count(*) FROM website_status"); n != writers*batches*perBatch {
		t.Fatalf("website_status has %d rows, want %d", n, writers*batches*perBatch)
	}
	fixture.CompareRollups(t, "days", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	fixture.FoldRollups(t, db, time.Now().Add(3*time.Hour))
	fixture.CompareRollups(t, "daily table", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	fixture.CompareRollups(t, "hourly", fixture.StoredRollups(t, db, false), fixture.ExpectedRollups(t, db, false))
}

// TestFoldNotStarved: batches whose transactions overlap without a break
// (sync catching up on several partitions) do not keep a merge waiting: the
// ones that come after it wait behind it.
func TestFoldNotStarved(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	stop := make(chan struct{})
	var held atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 3 {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond) // staggered: one always holds it
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := db.SQL().BeginTx(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				if _, err := store.ShareFold(ctx, tx); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				held.Add(1)
				time.Sleep(150 * time.Millisecond) // a batch's transaction
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return held.Load() >= 3 }, "the batches never took the lock")
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := db.FoldRollups(fctx, time.Now())
	took := time.Since(start)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("merge beside overlapping batches: %v (after %v, %d batches)", err, took.Round(time.Millisecond), held.Load())
	}
	if took > 2*time.Second {
		t.Errorf("merge took %v beside overlapping batches of 150 ms", took.Round(time.Millisecond))
	}
}

// TestMigrateRestoresRollupFold: a version 3 database that lost rollup_fold
// with hours not merged yet gets it back from migrate, and its days stay
// exact (the rollups are rebuilt: the new row cannot know what was merged).
func TestMigrateRestoresRollupFold(t *testing.T) {
	db := migratedDB(t)
	ctx := testContext(t)
	site := fixture.AddSite(t, db, "https://lost-fold.example/")
	start := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	var rs []contract.Result
	for i := range 6 * 12 {
		rs = append(rs, newResult(site, start.Add(time.Duration(i)*5*time.Minute), i%5 != 0, 200, float64(i+1)))
	}
	if _, err := db.InsertResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	fixture.FoldRollups(t, db, start.Add(3*time.Hour+store.FoldGrace)) // hours 0-2 merged, 3-5 not
	fixture.Exec(t, db, "DROP TABLE rollup_fold")

	rep := mustMigrate(t, db, schema.MigrateOptions{})
	if !contains(rep.Actions, "create table rollup_fold") || !contains(rep.Actions, "rebuild rollups and site_probe_state from 72 raw rows") {
		t.Fatalf("migrate: actions %q, problems %q", rep.Actions, rep.Problems)
	}
	fixture.CompareRollups(t, "days", fixture.StoredRollups(t, db, true), fixture.ExpectedRollups(t, db, true))
	fixture.CompareRollups(t, "hourly", fixture.StoredRollups(t, db, false), fixture.ExpectedRollups(t, db, false))
	if rep := mustMigrate(t, db, schema.MigrateOptions{}); !rep.UpToDate() {
		t.Errorf("second migrate: %q", rep.Lines())
	}
}
