package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/sitestat/sitestat/internal/retry"
)

// partitionLockID is the pg_advisory_xact_lock key that serialises partition
// creation and pruning across sync processes ("sitepart" in ASCII).
const partitionLockID int64 = 0x7369746570617274

// partitionLockTimeout bounds the wait for the parent's lock when creating or
// detaching a partition, so that a long query on website_status delays sync by
// a moment, not indefinitely; the attempt is then retried.
const partitionLockTimeout = "2s"

// day is the length of a partition.
const day = 24 * time.Hour

// Partition is one partition of website_status and the range of
// timestamp_utc it holds, [From, To).
type Partition struct {
	// Name of the partition, e.g. website_status_20261127.
	Name string
	// From is the first instant it holds.
	From time.Time
	// To is the first instant after it.
	To time.Time
}

// partitionCache remembers the UTC days known to have a partition, so that a
// batch whose days are all known needs no catalog query. It is cleared when an
// insert finds a partition missing (one dropped by hand).
type partitionCache struct {
	mu   sync.Mutex
	days map[time.Time]bool
}

func (c *partitionCache) has(days []time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range days {
		if !c.days[d] {
			return false
		}
	}
	return true
}

func (c *partitionCache) add(days []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.days == nil {
		c.days = map[time.Time]bool{}
	}
	for _, d := range days {
		c.days[d] = true
	}
}

func (c *partitionCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = nil
}

// utcDay returns the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	return t.UTC().Truncate(day)
}

// daysBetween returns the start of every UTC day from from's to to's.
func daysBetween(from, to time.Time) []time.Time {
	var out []time.Time
	for d := utcDay(from); !d.After(to.UTC()); d = d.Add(day) {
		out = append(out, d)
	}
	return out
}

// partitionName returns the name of the partition of the day starting at d.
func partitionName(d time.Time) string {
	return "website_status_" + d.UTC().Format("20060102")
}

// Partitions returns the partitions of website_status, oldest first.
func (db *DB) Partitions(ctx context.Context) ([]Partition, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	defer tx.Rollback()
	parts, err := listPartitions(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	return parts, nil
}

// listPartitions reads the partitions of website_status and their bounds
// (MINVALUE and MAXVALUE as the zero time and a far future). It sets the
// transaction's TimeZone to UTC, in which pg_get_expr prints the bounds.
func listPartitions(ctx context.Context, tx *sql.Tx) ([]Partition, error) {
	if _, err := tx.ExecContext(ctx, "SET LOCAL TimeZone = 'UTC'"); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT c.relname,
		       substring(b FROM 'FROM \(''([^'']+)''\)')::timestamptz,
		       substring(b FROM 'TO \(''([^'']+)''\)')::timestamptz
		FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		CROSS JOIN LATERAL pg_catalog.pg_get_expr(c.relpartbound, c.oid) b
		WHERE i.inhparent = to_regclass('website_status') AND b <> 'DEFAULT'
		ORDER BY 2 NULLS FIRST`)
	if err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		var from, to sql.NullTime
		if err := rows.Scan(&p.Name, &from, &to); err != nil {
			return nil, fmt.Errorf("read partitions: %w", err)
		}
		p.From, p.To = from.Time.UTC(), to.Time.UTC()
		if !to.Valid {
			p.To = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	return out, nil
}

// covered reports whether one of parts holds any instant of the day at d.
func covered(parts []Partition, d time.Time) bool {
	for _, p := range parts {
		if p.From.Before(d.Add(day)) && p.To.After(d) {
			return true
		}
	}
	return false
}

// EnsurePartitions creates the missing day partitions of website_status for
// every UTC day from from's to to's, and returns the names of those it
// created. It runs in its own short transaction, under an advisory lock (one
// creator at a time across sync processes) and a lock_timeout on the parent
// table; a lock timeout is retried a few times, then returned. Call it before
// a batch's transaction, never inside one: creating a partition takes a strong
// lock on website_status. InsertResults calls it itself for the days of a
// batch not known to have a partition.
func (db *DB) EnsurePartitions(ctx context.Context, from, to time.Time) ([]string, error) {
	days := daysBetween(from, to)
	if len(days) == 0 {
		return nil, nil
	}
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for attempt := 0; ; attempt++ {
		created, err := db.ensurePartitions(ctx, days)
		if err == nil {
			db.parts.add(days)
			return created, nil
		}
		if pq.As(err, pqerror.LockNotAvailable) == nil || attempt == 4 || !backoff.Wait(ctx, attempt) {
			return nil, fmt.Errorf("ensure partitions: %w", err)
		}
	}
}

func (db *DB) ensurePartitions(ctx context.Context, days []time.Time) ([]string, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", partitionLockID); err != nil {
		return nil, fmt.Errorf("take partition lock: %w", err)
	}
	created, err := createPartitions(ctx, tx, days)
	if err != nil {
		return nil, err
	}
	if len(created) == 0 {
		return nil, nil // nothing to commit
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return created, nil
}

// createPartitions creates, inside tx, a partition for each of days that no
// partition covers yet.
func createPartitions(ctx context.Context, tx *sql.Tx, days []time.Time) ([]string, error) {
	parts, err := listPartitions(ctx, tx)
	if err != nil {
		return nil, err
	}
	var created []string
	for _, d := range days {
		if covered(parts, d) {
			continue
		}
		name := partitionName(d)
		stmt := fmt.Sprintf("CREATE TABLE %s PARTITION OF website_status FOR VALUES FROM (%s) TO (%s)",
			pq.QuoteIdentifier(name), quoteTime(d), quoteTime(d.Add(day)))
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("create partition %s: %w", name, err)
		}
		created = append(created, name)
		parts = append(parts, Partition{Name: name, From: d, To: d.Add(day)})
	}
	return created, nil
}

// quoteTime returns t as an SQL timestamptz literal in UTC.
func quoteTime(t time.Time) string {
	return pq.QuoteLiteral(t.UTC().Format("2006-01-02 15:04:05.999999Z07:00"))
}

// isNoPartition reports whether err is PostgreSQL's "no partition of relation
// found for row" (SQLSTATE 23514 on a partitioned table).
func isNoPartition(err error) bool {
	pqErr := pq.As(err, pqerror.CheckViolation)
	return pqErr != nil && (pqErr.Table == "website_status" || strings.HasPrefix(pqErr.Message, "no partition of relation"))
}
