package store_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
)

// The write path benchmarks store 200,000 results in batches of 5,000 into
// a table that already has the schema's indexes, with different methods:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 3x ./store/
//
// rows/s is the figure to compare.
const (
	benchRows  = 200_000
	benchBatch = 5_000
	benchSites = 1_000
)

func benchResults(b *testing.B, db *store.DB, n int) []contract.Result {
	b.Helper()
	ctx := testContext(b)
	if _, err := db.SQL().ExecContext(ctx,
		"INSERT INTO websites (url, check_interval) SELECT 'https://site' || i || '.example/', 60 FROM generate_series(1, $1) i",
		benchSites); err != nil {
		b.Fatal(err)
	}
	ids, err := db.WebsiteIDs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var idList []int64
	for id := range ids {
		idList = append(idList, id)
	}
	start := time.Now().Add(-24 * time.Hour)
	out := make([]contract.Result, n)
	for i := range out {
		out[i] = newResult(idList[i%len(idList)], start.Add(time.Duration(i)*time.Millisecond), i%10 != 0, 200, float64(i%1000)+0.5)
	}
	return out
}

func BenchmarkWrite(b *testing.B) {
	db := migratedDB(b)
	results := benchResults(b, db, benchRows)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	// withDup repeats the first result of each batch at its end: the worst
	// case for InsertResults, whose straight COPY fails on the last row.
	withDup := make([]contract.Result, 0, benchRows)
	for i := 0; i < benchRows; i += benchBatch {
		batch := append([]contract.Result(nil), results[i:i+benchBatch-1]...)
		withDup = append(withDup, append(batch, batch[0])...)
	}
	perRow := func(batch []contract.Result) error {
		for _, r := range batch {
			info, err := r.Encode()
			if err != nil {
				return err
			}
			var code any
			if r.StatusCode != nil {
				code = *r.StatusCode
			}
			if _, err := db.SQL().ExecContext(ctx, "INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (check_id, timestamp_utc) DO NOTHING",
				r.WebsiteID, r.CheckedAt, string(info), r.CheckID, r.Up, string(r.Reason), code, r.ResponseTimeMs); err != nil {
				return err
			}
		}
		return nil
	}
	variants := []struct {
		name string
		rows []contract.Result
		f    func([]contract.Result) error
	}{
		{"InsertResults", results, func(batch []contract.Result) error {
			_, err := db.InsertResults(ctx, batch)
			return err
		}},
		{"raw-COPY", results, func(batch []contract.Result) error { return rawCopy(ctx, db.SQL(), "website_status", batch) }},
		{"staged-only", results, func(batch []contract.Result) error {
			_, err := store.InsertStaged(db, ctx, batch)
			return err
		}},
		{"temp-ON-COMMIT-DROP", results, func(batch []contract.Result) error { return tempDropCopy(ctx, db.SQL(), batch) }},
		{"InsertResults-dup-in-every-batch", withDup, func(batch []contract.Result) error {
			_, err := db.InsertResults(ctx, batch)
			return err
		}},
		// One INSERT per row is slow: measure it on 5,000 rows.
		{"INSERT-per-row", results[:benchRows/40], perRow},
	}
	// Run the variants in turn, in a random order, in each round, and report
	// the median rate of each, so that load from elsewhere on the machine
	// weighs on all of them alike.
	rates := make([][]float64, len(variants))
	for b.Loop() {
		for _, i := range rand.Perm(len(variants)) {
			v := variants[i]
			b.StopTimer()
			for _, q := range []string{"TRUNCATE website_status", "VACUUM ANALYZE website_status"} {
				if _, err := db.SQL().ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start := time.Now()
			for j := 0; j < len(v.rows); j += benchBatch {
				if err := v.f(v.rows[j:min(j+benchBatch, len(v.rows))]); err != nil {
					b.Fatalf("%s: %v", v.name, err)
				}
			}
			rates[i] = append(rates[i], float64(len(v.rows))/time.Since(start).Seconds())
		}
	}
	median := func(i int) float64 {
		r := append([]float64(nil), rates[i]...)
		sort.Float64s(r)
		return r[len(r)/2]
	}
	for i, v := range variants {
		b.ReportMetric(median(i), v.name+"-rows/s")
	}
	b.ReportMetric(median(0)/median(1), "InsertResults/raw-COPY")
	b.ReportMetric(median(0)/median(len(variants)-1), "InsertResults/INSERT-per-row")
}

// copyRows COPYs rows into table inside tx.
func copyRows(ctx context.Context, tx *sql.Tx, table string, rows []contract.Result) error {
	stmt, err := tx.PrepareContext(ctx, "COPY "+table+" (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms) FROM STDIN")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range rows {
		r := &rows[i]
		info, err := r.Encode()
		if err != nil {
			return err
		}
		var code any
		if r.StatusCode != nil {
			code = int64(*r.StatusCode)
		}
		if _, err := stmt.ExecContext(ctx, r.WebsiteID, r.CheckedAt, string(info), r.CheckID, r.Up, string(r.Reason), code, r.ResponseTimeMs); err != nil {
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	return stmt.Close()
}

// rawCopy COPYs a batch straight into table: the fastest possible write,
// which fails on a duplicate check_id.
func rawCopy(ctx context.Context, db *sql.DB, table string, rows []contract.Result) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := copyRows(ctx, tx, table, rows); err != nil {
		return err
	}
	return tx.Commit()
}

// tempDropCopy is the alternative to InsertResults' per-connection staging
// table: a temporary table created in each transaction, ON COMMIT DROP.
func tempDropCopy(ctx context.Context, db *sql.DB, rows []contract.Result) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE bench_tmp (LIKE website_status) ON COMMIT DROP"); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "bench_tmp", rows); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO website_status SELECT * FROM bench_tmp ON CONFLICT (check_id, timestamp_utc) DO NOTHING"); err != nil {
		return err
	}
	return tx.Commit()
}

// BenchmarkStatus measures Status over 1,000 sites with 1,440 results each
// (a day of checks every minute, 1.44 M rows), all in the 24 h window:
//
//	go test -run '^$' -bench BenchmarkStatus -benchtime 5x ./store/
func BenchmarkStatus(b *testing.B) {
	db := migratedDB(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.EnsurePartitions(ctx, now.Add(-48*time.Hour), now); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, q := range []string{
		"INSERT INTO websites (url, check_interval) SELECT 'https://site' || i || '.example/', 60 FROM generate_series(1, 1000) i",
		`INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms)
		 SELECT w.id, $1::timestamptz - make_interval(mins => m), '{}'::jsonb, gen_random_uuid(),
		        (w.id + m) % 20 <> 0, CASE WHEN (w.id + m) % 20 <> 0 THEN 'ok' ELSE 'http_status' END,
		        CASE WHEN (w.id + m) % 20 <> 0 THEN 200 ELSE 503 END, ((w.id * 7 + m * 13) % 900) + 20
		 FROM websites w, generate_series(0, 1439) m`,
		"VACUUM ANALYZE website_status",
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, now)
		}
		if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%.40s: %v", q, err)
		}
	}
	// The rows went in by SQL: build the rollups and state Status reads.
	if _, err := db.RebuildRollups(ctx, time.Time{}, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d rows in %s", fixture.Count(b, db, "SELECT count(*) FROM website_status"), time.Since(start).Round(time.Millisecond))
	for b.Loop() {
		sts, err := db.Status(ctx, 24*time.Hour, now)
		if err != nil {
			b.Fatal(err)
		}
		if len(sts) != 1000 || sts[0].Checks != 1440 {
			b.Fatalf("Status: %d sites, first with %d checks", len(sts), sts[0].Checks)
		}
	}
}
