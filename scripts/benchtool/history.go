package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"github.com/sitestat/sitestat/store"
)

// runHistory measures what issue 11 promises of the history: `status` over
// 10,000 websites × 30 days of rollups, `status ID`, `status` as the raw
// table grows from 1 to 5 days, and dropping a day of raw rows against
// DELETE of the same rows.
func runHistory(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	rollupSites := fs.Int("rollup-sites", 10000, "websites with 30 days of rollups")
	rawSites := fs.Int("raw-sites", 1000, "websites with raw rows every 60 s")
	runs := fs.Int("runs", 3, "runs of each timed command (the median is printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()

	// 1. Rollups for rollupSites websites × 30 days, generated in SQL: the
	// daily rows a 30-day window reads, and hourly rows for the last three
	// days (the window's edges). No raw rows.
	urlA, err := newDatabase(ctx, &cl, "bench_history_rollups")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, urlA); err != nil {
		return err
	}
	start := time.Now()
	if err := execAll(ctx, urlA, append([]string{
		fmt.Sprintf("INSERT INTO websites (url, check_interval) SELECT 'https://www.site' || i || '.example.com/health', 60 FROM generate_series(1, %d) i", *rollupSites),
	}, rollupSeed(30, 72, true)...)...); err != nil {
		return err
	}
	logf("history: rollups of %d websites × 30 days loaded in %s", *rollupSites, time.Since(start).Round(time.Millisecond))
	// The first run also fills website_status_window (once a day per
	// window length); the figure is the median of the runs after it.
	cold, err := timeCommand(ctx, *bin, urlA, 1, "status", "--window", "30d")
	if err != nil {
		return err
	}
	status30, err := timeCommand(ctx, *bin, urlA, *runs, "status", "--window", "30d")
	if err != nil {
		return err
	}
	logf("history: status --window 30d over %d websites: %.3f s (the first run, which fills the window cache: %.3f s)", *rollupSites, status30, cold)

	// 2. Raw rows for rawSites websites every 60 s: one day, then five.
	urlB, err := newDatabase(ctx, &cl, "bench_history_raw")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, urlB); err != nil {
		return err
	}
	db, err := sql.Open("postgres", urlB)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := store.Open(ctx, urlB, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := execAll(ctx, urlB, fmt.Sprintf(
		"INSERT INTO websites (url, check_interval) SELECT 'https://www.site' || i || '.example.com/health', 60 FROM generate_series(1, %d) i", *rawSites)); err != nil {
		return err
	}
	now := time.Now().UTC()
	// whole: false loads the last 24 hours; true the whole UTC days from
	// `from` to `to` days before today's (so the oldest partition is full).
	loadDays := func(from, to int, whole bool) error {
		if _, err := st.EnsurePartitions(ctx, now.Add(-time.Duration(to+1)*24*time.Hour), now); err != nil {
			return err
		}
		start := time.Now()
		for d := from; d < to; d++ {
			at := "$now::timestamptz - make_interval(mins => m, secs => w.id % 60)"
			if whole {
				at = fmt.Sprintf("date_trunc('day', $now::timestamptz, 'UTC') - interval '%d days' + make_interval(mins => m, secs => w.id %% 60)", d)
			}
			if err := execAll(ctx, urlB, fmt.Sprintf(`
				INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms, probe, host)
				SELECT w.id, %s,
				       jsonb_build_object('v', 1, 'website_id', w.id, 'probe', 'default', 'error', ''),
				       gen_random_uuid(), (w.id + m) %% 20 <> 0, CASE WHEN (w.id + m) %% 20 <> 0 THEN 'ok' ELSE 'http_status' END,
				       CASE WHEN (w.id + m) %% 20 <> 0 THEN 200 ELSE 503 END, ((w.id * 7 + m * 13) %% 900) + 20.5, 'default', 'bench'
				FROM websites w, generate_series(0, 1439) m`, at)); err != nil {
				return err
			}
		}
		logf("history: raw rows (days %d to %d ago, whole %t) loaded in %s", from, to-1, whole, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if _, err := st.RebuildRollups(ctx, now.Add(-time.Duration(to+1)*24*time.Hour), nil); err != nil {
			return err
		}
		// and the hours merged into days, as sync does every few minutes.
		if _, err := st.FoldRollups(ctx, time.Now()); err != nil {
			return err
		}
		logf("history: rollups rebuilt and merged in %s", time.Since(start).Round(time.Millisecond))
		return execAll(ctx, urlB, "VACUUM ANALYZE")
	}
	if err := loadDays(0, 1, false); err != nil {
		return err
	}
	status1, err := timeCommand(ctx, *bin, urlB, *runs, "status")
	if err != nil {
		return err
	}
	// Yesterday is partly loaded already: four whole days before it.
	if err := loadDays(2, 6, true); err != nil {
		return err
	}
	status5, err := timeCommand(ctx, *bin, urlB, *runs, "status")
	if err != nil {
		return err
	}
	statusSite, err := timeCommand(ctx, *bin, urlB, *runs, "status", strconv.Itoa(*rawSites/2))
	if err != nil {
		return err
	}
	var rows int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM website_status").Scan(&rows); err != nil {
		return err
	}
	logf("history: status over %d websites with 1 day of raw rows %.3f s, with 5 days (%d rows) %.3f s; status ID %.3f s",
		*rawSites, status1, rows, status5, statusSite)

	// 3. Dropping the oldest day against DELETE of the same rows from an
	// identical, unpartitioned table (same columns and indexes) holding the
	// two oldest days.
	parts, err := st.Partitions(ctx)
	if err != nil {
		return err
	}
	var oldest store.Partition
	for _, p := range parts {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+p.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			oldest = p
			break
		}
	}
	if err := execAll(ctx, urlB,
		"CREATE TABLE flat (LIKE website_status INCLUDING ALL)",
		fmt.Sprintf("INSERT INTO flat SELECT * FROM website_status WHERE timestamp_utc >= '%s' AND timestamp_utc < '%s'",
			oldest.From.Format(time.RFC3339), oldest.To.Add(24*time.Hour).Format(time.RFC3339)),
		"VACUUM ANALYZE flat",
	); err != nil {
		return err
	}
	var dayRows int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+oldest.Name).Scan(&dayRows); err != nil {
		return err
	}
	start = time.Now()
	res, err := db.ExecContext(ctx, "DELETE FROM flat WHERE timestamp_utc >= $1 AND timestamp_utc < $2", oldest.From, oldest.To)
	if err != nil {
		return err
	}
	deleteSecs := time.Since(start).Seconds()
	deleted, _ := res.RowsAffected()
	// First, untimed, the empty partitions EnsurePartitions made before it.
	if _, err := st.Prune(ctx, store.Retention{Raw: now.Sub(oldest.From)}, now, false); err != nil {
		return err
	}
	start = time.Now()
	rep, err := st.Prune(ctx, store.Retention{Raw: now.Sub(oldest.To)}, now, false)
	if err != nil {
		return err
	}
	pruneSecs := time.Since(start).Seconds()
	if len(rep.Partitions) != 1 || rep.Partitions[0].Name != oldest.Name || deleted != dayRows {
		return fmt.Errorf("prune dropped %+v, DELETE removed %d rows; want %s and its %d rows", rep.Partitions, deleted, oldest.Name, dayRows)
	}
	logf("history: one day (%d rows): prune %.3f s, DELETE %.3f s", dayRows, pruneSecs, deleteSecs)

	fmt.Printf("history: status 30d over %d websites %.3f s; status ID %.3f s; status at 5 days of raw rows / 1 day %.2f; prune a day %.3f s vs DELETE %.3f s\n",
		*rollupSites, status30, statusSite, status5/status1, pruneSecs, deleteSecs)
	fmt.Printf("status_30d_seconds=%.3f status_site_seconds=%.3f status_growth_ratio=%.2f prune_day_seconds=%.3f prune_vs_delete_ratio=%.4f\n",
		status30, statusSite, status5/status1, pruneSecs, pruneSecs/deleteSecs)
	return nil
}

// execAll runs statements in order on dbURL; "$now" is replaced by the
// current time as an SQL literal.
func execAll(ctx context.Context, dbURL string, stmts ...string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	now := "'" + time.Now().UTC().Format(time.RFC3339Nano) + "'"
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, replaceNow(q, now)); err != nil {
			return fmt.Errorf("%.60s: %w", q, err)
		}
	}
	return nil
}

func replaceNow(q, now string) string {
	out := []byte{}
	for i := 0; i < len(q); i++ {
		if i+4 <= len(q) && q[i:i+4] == "$now" {
			out = append(out, now...)
			i += 3
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// timeCommand runs `sitestat args…` runs times against dbURL, output
// discarded, and returns the median wall time in seconds.
func timeCommand(ctx context.Context, bin, dbURL string, runs int, args ...string) (float64, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	var secs []float64
	for range runs {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = sitestatEnv("SITESTAT_DATABASE_URL=" + dbURL)
		cmd.Stdout = devnull
		stderr := &limitedBuffer{}
		cmd.Stderr = stderr
		t := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("sitestat %v: %w: %s", args, err, stderr.b)
		}
		secs = append(secs, time.Since(t).Seconds())
	}
	sort.Float64s(secs)
	return secs[len(secs)/2], nil
}
