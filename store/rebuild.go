package store

import (
	"context"
	"fmt"
	"time"
)

// RebuildReport is what RebuildRollups did.
type RebuildReport struct {
	// Rows is how many raw rows were aggregated.
	Rows int64
	// Partitions is how many partitions of website_status were read.
	Partitions int
	// From is the first instant rebuilt (the zero time: from the oldest row).
	From time.Time
}

// rollupSQL aggregates the raw rows of [$1, $2) into table, whose time key
// column is %[2]s computed by the expression %[3]s.
var rollupSQL = `
	WITH r AS (
		SELECT website_id, probe, %[3]s AS t, up, reason, response_time_ms AS rt, ` + histSQLBucketRT + ` AS b
		FROM website_status WHERE timestamp_utc >= $1 AND timestamp_utc < $2
	), base AS (
		SELECT website_id, probe, t, count(*) AS checks, count(*) FILTER (WHERE up) AS up_checks,
		       count(rt) AS rt_count, coalesce(sum(rt::float8), 0) AS rt_sum, min(rt) AS rt_min, max(rt) AS rt_max
		FROM r GROUP BY 1, 2, 3
	), rs AS (
		SELECT website_id, probe, t, jsonb_object_agg(reason, n) AS reasons
		FROM (SELECT website_id, probe, t, reason, count(*) AS n FROM r WHERE NOT up GROUP BY 1, 2, 3, 4) x
		GROUP BY 1, 2, 3
	), hs AS (
		SELECT website_id, probe, t, array_agg((b::bigint << 32) | n ORDER BY b) AS hist
		FROM (SELECT website_id, probe, t, b, count(*) AS n FROM r WHERE b IS NOT NULL GROUP BY 1, 2, 3, 4) x
		GROUP BY 1, 2, 3
	)
	INSERT INTO %[1]s (website_id, probe, %[2]s, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist)
	SELECT base.website_id, base.probe, base.t, checks, up_checks, coalesce(reasons, '{}'), rt_count, rt_sum,
	       rt_min, rt_max, coalesce(hist, '{}')
	FROM base LEFT JOIN rs USING (website_id, probe, t) LEFT JOIN hs USING (website_id, probe, t)`

// histSQLBucketRT is histSQLBucket for website_status.response_time_ms.
var histSQLBucketRT = fmt.Sprintf(histSQLBucket, "response_time_ms")

// RebuildRollups recomputes the hourly rollups, and the daily ones of the
// hours already merged into days (rollup_fold), from the raw rows
// of website_status at or after since (the zero time: all of them), one
// partition per transaction, and brings site_probe_state up to the latest
// raw row of each website and probe. since is rounded down to its UTC day.
// Each transaction locks the rollup tables against sync's updates (SHARE ROW
// EXCLUSIVE), so a batch stored meanwhile waits and is counted once; rollups
// of days without raw rows (pruned) are kept.
func (db *DB) RebuildRollups(ctx context.Context, since time.Time, progress func(string)) (RebuildReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	rep, err := db.rebuildRollups(ctx, since, progress)
	if err != nil {
		return rep, fmt.Errorf("rebuild rollups: %w", err)
	}
	return rep, nil
}

func (db *DB) rebuildRollups(ctx context.Context, since time.Time, progress func(string)) (RebuildReport, error) {
	rep := RebuildReport{}
	if !since.IsZero() {
		since = utcDay(since)
		rep.From = since
	}
	parts, err := db.Partitions(ctx)
	if err != nil {
		return rep, err
	}
	for i, p := range parts {
		from, to := p.From, p.To
		if !since.IsZero() && !to.After(since) {
			continue
		}
		if from.Before(since) {
			from = since
		}
		start := time.Now()
		n, err := db.rebuildRange(ctx, from, to)
		if err != nil {
			return rep, fmt.Errorf("partition %s: %w", p.Name, err)
		}
		rep.Rows += n
		rep.Partitions++
		if n > 0 || len(parts) < 30 {
			progress(fmt.Sprintf("rollups: %s [%d/%d]: %d rows in %s", p.Name, i+1, len(parts), n,
				time.Since(start).Round(time.Millisecond)))
		}
	}
	if err := db.rebuildState(ctx, since); err != nil {
		return rep, err
	}
	return rep, nil
}

// rebuildRange recomputes the rollups of the hours and days in [from, to),
// both whole UTC days, in one transaction, and returns the raw rows read.
func (db *DB) rebuildRange(ctx context.Context, from, to time.Time) (int64, error) {
	tx, err := db.db.BeginTx(ctx, readCommitted)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The daily rows hold the hours before folded_hour (FoldRollups merges
	// the later ones when their time comes). Its lock first: a batch of sync
	// takes it before it writes the rollups.
	folded, err := lockFold(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := markDaysWriter(ctx, tx); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE website_status_hourly, website_status_daily IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return 0, fmt.Errorf("lock rollups: %w", err)
	}
	dailyTo := to
	if folded.Before(dailyTo) {
		dailyTo = folded
	}
	for _, q := range []string{
		"DELETE FROM website_status_hourly WHERE hour >= $1 AND hour < $2",
		"DELETE FROM website_status_daily WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date",
		fmt.Sprintf(rollupSQL, "website_status_hourly", "hour", "date_trunc('hour', timestamp_utc, 'UTC')"),
	} {
		if _, err := tx.ExecContext(ctx, q, from, to); err != nil {
			return 0, fmt.Errorf("%.60s: %w", q, err)
		}
	}
	if dailyTo.After(from) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(rollupSQL, "website_status_daily", "day", "(timestamp_utc AT TIME ZONE 'UTC')::date"), from, dailyTo); err != nil {
			return 0, fmt.Errorf("rebuild daily rollups: %w", err)
		}
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(sum(checks), 0) FROM website_status_hourly WHERE hour >= $1 AND hour < $2", from, to).Scan(&n); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// rebuildState moves site_probe_state forward to the latest raw row at or
// after since of each website and probe.
func (db *DB) rebuildState(ctx context.Context, since time.Time) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO site_probe_state AS s (website_id, probe, checked_at, check_id, up, reason, status_code,
		                                   response_time_ms, error, host, updated_at)
		SELECT DISTINCT ON (website_id, probe) website_id, probe, timestamp_utc, check_id, up, reason, status_code,
		       response_time_ms, coalesce(request_info->>'error', ''), host, now()
		FROM website_status WHERE timestamp_utc >= $1
		ORDER BY website_id, probe, timestamp_utc DESC, check_id DESC
		ON CONFLICT (website_id, probe) DO UPDATE SET
			checked_at = excluded.checked_at, check_id = excluded.check_id, up = excluded.up,
			reason = excluded.reason, status_code = excluded.status_code,
			response_time_ms = excluded.response_time_ms, error = excluded.error, host = excluded.host,
			updated_at = excluded.updated_at
		WHERE (excluded.checked_at, excluded.check_id) > (s.checked_at, s.check_id)`, since)
	if err != nil {
		return fmt.Errorf("rebuild site_probe_state: %w", err)
	}
	return nil
}
