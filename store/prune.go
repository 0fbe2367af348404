package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/sitestat/sitestat/internal/retry"
)

// pruneLockID is the session advisory lock that lets one pruning pass run at
// a time across sync processes ("siteprun" in ASCII).
const pruneLockID int64 = 0x73697465707275

// rollupDeleteBatch bounds the rows one DELETE of old rollups removes, so
// each holds its locks for a moment.
const rollupDeleteBatch = 10000

// Retention says how long each kind of history is kept; 0 keeps it forever.
type Retention struct {
	// Raw is how long raw rows (website_status) are kept. They go by whole
	// UTC-day partitions: a partition goes when all of it is older.
	Raw time.Duration
	// Hourly is how long website_status_hourly rows are kept.
	Hourly time.Duration
	// Daily is how long website_status_daily rows are kept.
	Daily time.Duration
}

// PruneReport is what one pruning pass did or, in a dry run, would do.
type PruneReport struct {
	// Skipped is true when another process held the pruning lock: nothing
	// was done.
	Skipped bool
	// DryRun is whether nothing was changed.
	DryRun bool
	// Partitions are the raw partitions dropped, oldest first.
	Partitions []PrunedPartition
	// HourlyRows and DailyRows are the rollup rows deleted.
	HourlyRows, DailyRows int64
	// RawBefore, HourlyBefore and DailyBefore are the cut-offs applied (the
	// zero time where the retention is 0).
	RawBefore, HourlyBefore, DailyBefore time.Time
}

// PrunedPartition is one raw partition dropped.
type PrunedPartition struct {
	Partition
	// Rows is PostgreSQL's estimate of its rows (pg_class.reltuples), -1
	// when it was never analysed.
	Rows int64
	// Bytes is its size with its indexes.
	Bytes int64
}

// RawRows returns the estimated raw rows dropped.
func (r PruneReport) RawRows() int64 {
	var n int64
	for _, p := range r.Partitions {
		n += max(p.Rows, 0)
	}
	return n
}

// Prune runs one pruning pass at now with ret, once at a time across
// processes (a session advisory lock; when another process holds it the
// report says Skipped). Raw history goes by whole partitions, never by
// DELETE: each partition whose whole range is older than now-ret.Raw is
// detached with DETACH PARTITION … CONCURRENTLY (which lets sync's writes
// through) under a short lock_timeout, retried, then dropped; one left
// half-detached by an interrupted pass is finalized first. Rollup rows older
// than their retention are deleted in small batches. With dryRun it only
// reports what would go. sync runs it periodically; `sitestat prune` runs it
// once.
func (db *DB) Prune(ctx context.Context, ret Retention, now time.Time, dryRun bool) (PruneReport, error) {
	rep := PruneReport{DryRun: dryRun}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", pruneLockID).Scan(&locked); err != nil {
		return rep, fmt.Errorf("prune: take lock: %w", err)
	}
	if !locked {
		rep.Skipped = true
		return rep, nil
	}
	// The session lock goes with the connection if the unlock fails.
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", pruneLockID)
	}()

	if ret.Raw > 0 {
		rep.RawBefore = now.Add(-ret.Raw).UTC()
		if err := pruneRaw(ctx, conn, &rep); err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
	}
	if ret.Hourly > 0 {
		rep.HourlyBefore = now.Add(-ret.Hourly).UTC().Truncate(time.Hour)
		n, err := pruneRollups(ctx, conn, "website_status_hourly", "hour < $1 AND hour < (SELECT folded_hour FROM rollup_fold)", rep.HourlyBefore, dryRun)
		if err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.HourlyRows = n
	}
	if ret.Daily > 0 {
		rep.DailyBefore = utcDay(now.Add(-ret.Daily))
		n, err := pruneRollups(ctx, conn, "website_status_daily", "day < ($1::timestamptz AT TIME ZONE 'UTC')::date", rep.DailyBefore, dryRun)
		if err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.DailyRows = n
	}
	return rep, nil
}

// pruneRaw detaches and drops the partitions entirely before rep.RawBefore.
func pruneRaw(ctx context.Context, conn *sql.Conn, rep *PruneReport) error {
	// A partition an interrupted DETACH … CONCURRENTLY left pending.
	var pending []string
	rows, err := conn.QueryContext(ctx, `
		SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass('website_status') AND i.inhdetachpending`)
	if err != nil {
		return fmt.Errorf("read partitions: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read partitions: %w", err)
		}
		pending = append(pending, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read partitions: %w", err)
	}
	if !rep.DryRun {
		for _, name := range pending {
			if err := withLockRetry(ctx, conn, "ALTER TABLE website_status DETACH PARTITION "+pq.QuoteIdentifier(name)+" FINALIZE"); err != nil {
				return fmt.Errorf("finalize detach of %s: %w", name, err)
			}
		}
	}

	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	parts, err := listPartitions(ctx, tx)
	tx.Rollback()
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.To.After(rep.RawBefore) {
			continue
		}
		pp := PrunedPartition{Partition: p, Rows: -1}
		if err := conn.QueryRowContext(ctx, `
			SELECT c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_catalog.pg_class c
			WHERE c.oid = to_regclass($1)`, pq.QuoteIdentifier(p.Name)).Scan(&pp.Rows, &pp.Bytes); err != nil {
			return fmt.Errorf("size of %s: %w", p.Name, err)
		}
		if !rep.DryRun {
			if err := withLockRetry(ctx, conn, "ALTER TABLE website_status DETACH PARTITION "+pq.QuoteIdentifier(p.Name)+" CONCURRENTLY"); err != nil {
				return fmt.Errorf("detach %s: %w", p.Name, err)
			}
			if err := withLockRetry(ctx, conn, "DROP TABLE "+pq.QuoteIdentifier(p.Name)); err != nil {
				return fmt.Errorf("drop %s: %w", p.Name, err)
			}
		}
		rep.Partitions = append(rep.Partitions, pp)
	}
	for _, name := range pending {
		if !rep.DryRun {
			// Finalized above: now a plain table, no longer in the list.
			if err := withLockRetry(ctx, conn, "DROP TABLE IF EXISTS "+pq.QuoteIdentifier(name)); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			rep.Partitions = append(rep.Partitions, PrunedPartition{Partition: Partition{Name: name}, Rows: -1})
		}
	}
	return nil
}

// withLockRetry runs stmt outside a transaction with a short lock_timeout,
// retrying a few times when the lock is not granted in time, so that pruning
// never holds sync's writes up for more than a moment.
func withLockRetry(ctx context.Context, conn *sql.Conn, stmt string) error {
	if _, err := conn.ExecContext(ctx, "SET lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
		return err
	}
	// Best effort: if RESET fails the connection keeps the shorter lock_timeout
	// until the pool closes it (only lock waits are shortened, nothing is lost).
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "RESET lock_timeout") }()
	backoff := retry.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		_, err := conn.ExecContext(ctx, stmt)
		if err == nil || pq.As(err, pqerror.LockNotAvailable) == nil || attempt == 9 || !backoff.Wait(ctx, attempt) {
			return err
		}
	}
}

// pruneRollups deletes (or, in a dry run, counts) the rows of table matching
// where ($1 is before), in batches of rollupDeleteBatch.
func pruneRollups(ctx context.Context, conn *sql.Conn, table, where string, before time.Time, dryRun bool) (int64, error) {
	if dryRun {
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+where, before).Scan(&n); err != nil {
			return 0, fmt.Errorf("count old %s rows: %w", table, err)
		}
		return n, nil
	}
	var total int64
	for {
		res, err := conn.ExecContext(ctx, fmt.Sprintf(
			"DELETE FROM %[1]s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %[1]s WHERE %[2]s LIMIT %[3]d))",
			table, where, rollupDeleteBatch), before)
		if err != nil {
			return total, fmt.Errorf("delete old %s rows: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < rollupDeleteBatch {
			return total, nil
		}
	}
}
