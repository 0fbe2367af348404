package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// FoldGrace is how long after an hour has ended FoldRollups merges its
// hourly rollups into days: results in flight, and re-sends after a short
// outage, still count in the hourly rows alone, the cheap way.
const FoldGrace = time.Hour

// rollupDaysSQL is the days' rollups as readers see them, to be used as a
// FROM item: each day's daily row (its merged hours) and its hourly rows not
// merged yet (rollup_fold), several rows per website, probe and day, which
// readers sum.
const rollupDaysSQL = `(
	SELECT website_id, probe, day, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist
	FROM website_status_daily
	UNION ALL
	SELECT website_id, probe, (hour AT TIME ZONE 'UTC')::date, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist
	FROM website_status_hourly WHERE hour >= (SELECT folded_hour FROM rollup_fold))`

// foldSQL adds the hourly rollups of [$1, $2) to their days. It merges
// them with the daily rows they add to as sets (one GROUP BY over every
// histogram element and reason) and replaces those rows: a per-row merge
// function costs several times more. Only the merge writes daily rows of
// unmerged hours, and it holds rollup_fold's lock, so the rows it read are
// the rows it replaces.
const foldSQL = `
	WITH h AS (
		SELECT website_id, probe, (hour AT TIME ZONE 'UTC')::date AS day, checks, up_checks, reasons,
		       rt_count, rt_sum, rt_min, rt_max, rt_hist
		FROM website_status_hourly WHERE hour >= $1 AND hour < $2
	), a AS (
		SELECT * FROM h
		UNION ALL
		SELECT d.website_id, d.probe, d.day, d.checks, d.up_checks, d.reasons, d.rt_count, d.rt_sum, d.rt_min, d.rt_max, d.rt_hist
		FROM website_status_daily d JOIN (SELECT DISTINCT website_id, probe, day FROM h) k USING (website_id, probe, day)
	), base AS (
		SELECT website_id, probe, day, sum(checks) AS checks, sum(up_checks) AS up_checks, sum(rt_count) AS rt_count,
		       sum(rt_sum) AS rt_sum, min(rt_min) AS rt_min, max(rt_max) AS rt_max
		FROM a GROUP BY 1, 2, 3
	), rs AS (
		SELECT website_id, probe, day, jsonb_object_agg(k, n) AS reasons
		FROM (SELECT website_id, probe, day, e.k, sum(e.v::bigint) AS n
		      FROM a, jsonb_each_text(a.reasons) AS e(k, v) GROUP BY 1, 2, 3, 4) x
		GROUP BY 1, 2, 3
	), hs AS (
		SELECT website_id, probe, day, array_agg((b << 32) | n ORDER BY b) AS hist
		FROM (SELECT website_id, probe, day, e >> 32 AS b, sum(e & 4294967295)::bigint AS n
		      FROM a, unnest(a.rt_hist) AS e GROUP BY 1, 2, 3, 4) x
		GROUP BY 1, 2, 3
	)
	INSERT INTO website_status_daily AS t (website_id, probe, day, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist)
	SELECT base.website_id, base.probe, base.day, checks, up_checks, coalesce(reasons, '{}'), rt_count, rt_sum,
	       rt_min, rt_max, coalesce(hist, '{}')
	FROM base LEFT JOIN rs USING (website_id, probe, day) LEFT JOIN hs USING (website_id, probe, day)
	ORDER BY 1, 2, 3
	ON CONFLICT (website_id, probe, day) DO UPDATE SET
		checks = excluded.checks, up_checks = excluded.up_checks, reasons = excluded.reasons,
		rt_count = excluded.rt_count, rt_sum = excluded.rt_sum, rt_min = excluded.rt_min, rt_max = excluded.rt_max,
		rt_hist = excluded.rt_hist`

// FoldReport is what FoldRollups did.
type FoldReport struct {
	// From and To bound the hours merged, [From, To); equal when none were.
	From, To time.Time
	// DailyRows is how many daily rows the merge wrote (created or
	// replaced).
	DailyRows int64
}

// foldStep is the most hours FoldRollups merges in one transaction, so
// that after days without a merge (sync stopped) batches never wait long.
const foldStep = 3 * time.Hour

// FoldRollups merges into website_status_daily the hourly rollups of the
// hours not merged yet that ended at least FoldGrace before now, and moves
// rollup_fold past them: days are merged from hours, so sync's batches
// update one rollup row per website, probe and hour instead of two. Each
// transaction merges at most foldStep hours and locks rollup_fold
// (lockFold), so batches of sync wait for it, and a concurrent FoldRollups
// waits, then finds nothing left to merge.
func (db *DB) FoldRollups(ctx context.Context, now time.Time) (FoldReport, error) {
	to := now.UTC().Truncate(time.Hour).Add(-FoldGrace)
	var rep FoldReport
	for first := true; ; first = false {
		step, err := db.foldRollups(ctx, to)
		if err != nil {
			return rep, fmt.Errorf("merge hourly rollups into days: %w", err)
		}
		if first {
			rep.From = step.From
		}
		rep.To = step.To
		rep.DailyRows += step.DailyRows
		if !step.To.After(step.From) || !step.To.Before(to) {
			return rep, nil
		}
	}
}

// foldRollups merges the hours from folded_hour to to, at most foldStep of
// them, in one transaction.
func (db *DB) foldRollups(ctx context.Context, to time.Time) (FoldReport, error) {
	tx, err := db.db.BeginTx(ctx, readCommitted)
	if err != nil {
		return FoldReport{}, err
	}
	defer tx.Rollback()
	from, err := lockFold(ctx, tx)
	if err != nil {
		return FoldReport{}, err
	}
	rep := FoldReport{From: from, To: from}
	if !to.After(from) {
		return rep, nil
	}
	if to.Sub(from) > foldStep {
		// The first merge of a new database starts in 1970: from its first hour.
		var first sql.NullTime
		if err := tx.QueryRowContext(ctx, "SELECT min(hour) FROM website_status_hourly WHERE hour >= $1", from).Scan(&first); err != nil {
			return rep, fmt.Errorf("read website_status_hourly: %w", err)
		}
		start := to
		if first.Valid && first.Time.Before(to) {
			start = first.Time.UTC()
		}
		to = minTime(to, start.Add(foldStep))
	}
	if err := markDaysWriter(ctx, tx); err != nil {
		return rep, err
	}
	// The merge groups every histogram element of the hours: let it hash in memory.
	if _, err := tx.ExecContext(ctx, "SET LOCAL work_mem = '64MB'"); err != nil {
		return rep, err
	}
	res, err := tx.ExecContext(ctx, foldSQL, from, to)
	if err != nil {
		return rep, err
	}
	if rep.DailyRows, err = res.RowsAffected(); err != nil {
		return rep, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE rollup_fold SET folded_hour = $1", to); err != nil {
		return rep, fmt.Errorf("update rollup_fold: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return rep, fmt.Errorf("commit: %w", err)
	}
	rep.To = to
	return rep, nil
}

// The merge and the batches take rollup_fold's table lock, not its row's:
// PostgreSQL queues table locks in order, so batches that come after a
// waiting merge wait behind it, whereas a new FOR SHARE row lock is granted
// beside the others while a FOR UPDATE waits — under a steady stream of
// overlapping batches the merge would never run (TestFoldNotStarved).

// lockFold locks rollup_fold against batches and other merges (EXCLUSIVE:
// readers' plain SELECTs still go on) and returns folded_hour.
func lockFold(ctx context.Context, tx *sql.Tx) (time.Time, error) {
	return readFold(ctx, tx, "LOCK TABLE rollup_fold IN EXCLUSIVE MODE")
}

// shareFold locks rollup_fold against a merge for the rest of a batch's
// transaction (ROW SHARE: batches do not wait for each other) and returns
// folded_hour: a check before it is in a merged hour, whose day the batch
// updates too.
func shareFold(ctx context.Context, tx *sql.Tx) (time.Time, error) {
	return readFold(ctx, tx, "LOCK TABLE rollup_fold IN ROW SHARE MODE")
}

// readCommitted is the isolation of the transactions that take
// rollup_fold's lock, whatever the database's default: each statement
// after the lock sees what a merge committed before it was granted.
var readCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// markDaysWriter tells website_status_daily's trigger that this
// transaction's writer merges days from hours (schema.sql refuses the
// writes of older versions).
func markDaysWriter(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT set_config('sitestat.writer_version', $1, true)", strconv.Itoa(SchemaVersion)); err != nil {
		return fmt.Errorf("mark the writer of website_status_daily: %w", err)
	}
	return nil
}

func readFold(ctx context.Context, tx *sql.Tx, lock string) (time.Time, error) {
	var folded time.Time
	if _, err := tx.ExecContext(ctx, lock); err != nil {
		return folded, fmt.Errorf("lock rollup_fold: %w", err)
	}
	// Read after the lock: a merge that committed meanwhile is seen.
	if err := tx.QueryRowContext(ctx, "SELECT folded_hour FROM rollup_fold").Scan(&folded); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return folded, errNoFoldRow
		}
		return folded, fmt.Errorf("read rollup_fold: %w", err)
	}
	return folded.UTC(), nil
}

// errNoFoldRow is returned when rollup_fold has lost its row.
var errNoFoldRow = errors.New("rollup_fold has no row (run sitestat migrate)")

// WarmWindows fills website_status_window for the long windows of
// DetailWindows (7, 30 and 90 days) as of now, so that the first long
// `status` of a UTC day reads the cache instead of filling it. sync runs it
// once a day; it is what such a `status` would do, and a no-op for the
// websites already filled for the day.
func (db *DB) WarmWindows(ctx context.Context, now time.Time) error {
	for _, w := range DetailWindows {
		if _, err := db.fillWindows(ctx, 0, now.Add(-w), now); err != nil {
			return fmt.Errorf("warm the %s window cache: %w", w, err)
		}
	}
	return nil
}
