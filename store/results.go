package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/sitestat/sitestat/checker"
)

// resultColumns are the website_status columns InsertResults writes, in the
// order of the values resultRow returns.
const resultColumns = "website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms"

// createStaging creates, once per connection, the temporary table a batch is
// copied into. Its rows vanish at every commit, so it is empty at the start
// of each batch; IF NOT EXISTS makes it a no-op on a connection that has it.
const createStaging = `CREATE TEMP TABLE IF NOT EXISTS sitestat_staging (
	website_id       integer,
	timestamp_utc    timestamptz,
	request_info     jsonb,
	check_id         uuid,
	up               boolean,
	reason           text,
	status_code      smallint,
	response_time_ms real
) ON COMMIT DELETE ROWS`

// InsertResults stores a batch of results in website_status, each check_id
// once, and returns how many rows it inserted. request_info is the message
// as received (Result.Raw), or the Result encoded when Raw is nil; the typed
// columns copy its fields.
//
// It first COPYs the batch straight into website_status, the fastest write
// PostgreSQL has. When that fails on a duplicate check_id (a redelivered
// batch, or the same check twice in the batch), it stores the batch again the
// slower way: COPY into a temporary table, then INSERT … ON CONFLICT
// (check_id) DO NOTHING, which skips the results already stored. Each way is
// one transaction, so a batch is stored whole or not at all. Errors wrap the
// *pq.Error when PostgreSQL rejected the batch (e.g. SQLSTATE 23503 for a
// website_id that does not exist).
func (db *DB) InsertResults(ctx context.Context, results []checker.Result) (int, error) {
	if len(results) == 0 {
		return 0, nil
	}
	n, err := db.copyResults(ctx, results)
	if pq.As(err, pqerror.UniqueViolation) != nil {
		n, err = db.insertStaged(ctx, results)
	}
	if err != nil {
		return 0, fmt.Errorf("insert results: %w", err)
	}
	return n, nil
}

// copyResults COPYs the batch into website_status in one transaction.
func (db *DB) copyResults(ctx context.Context, results []checker.Result) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := copyInto(ctx, tx, "website_status", results); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return len(results), nil
}

// insertStaged COPYs the batch into the connection's staging table, then
// inserts it into website_status skipping known check_ids, in one transaction.
func (db *DB) insertStaged(ctx context.Context, results []checker.Result) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createStaging); err != nil {
		return 0, fmt.Errorf("create staging table: %w", err)
	}
	if err := copyInto(ctx, tx, "sitestat_staging", results); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO website_status ("+resultColumns+") SELECT "+resultColumns+
		" FROM sitestat_staging ON CONFLICT (check_id) DO NOTHING")
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return int(n), nil
}

// copyInto COPYs results into the resultColumns of table.
func copyInto(ctx context.Context, tx *sql.Tx, table string, results []checker.Result) error {
	stmt, err := tx.PrepareContext(ctx, "COPY "+table+" ("+resultColumns+") FROM STDIN")
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer stmt.Close()
	for i := range results {
		r := &results[i]
		info := r.Raw // the bytes received, so fields this build does not know are kept
		if info == nil {
			var err error
			if info, err = r.Encode(); err != nil {
				return fmt.Errorf("check %s: %w", r.CheckID, err)
			}
		}
		var status any
		if r.StatusCode != nil {
			status = int64(*r.StatusCode)
		}
		if _, err := stmt.ExecContext(ctx, r.WebsiteID, r.CheckedAt, string(info), r.CheckID,
			r.Up, string(r.Reason), status, r.ResponseTimeMs); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// WebsiteIDs returns the id of every website.
func (db *DB) WebsiteIDs(ctx context.Context) (map[int64]struct{}, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT id FROM websites")
	if err != nil {
		return nil, fmt.Errorf("website ids: %w", err)
	}
	defer rows.Close()
	ids := map[int64]struct{}{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("website ids: %w", err)
		}
		ids[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("website ids: %w", err)
	}
	return ids, nil
}

// WebsitesExist reports for each of ids whether a website has that id.
func (db *DB) WebsitesExist(ctx context.Context, ids []int64) (map[int64]bool, error) {
	exist := make(map[int64]bool, len(ids))
	for _, id := range ids {
		exist[id] = false
	}
	if len(ids) == 0 {
		return exist, nil
	}
	rows, err := db.db.QueryContext(ctx, "SELECT id FROM websites WHERE id = ANY($1::bigint[])", pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("websites exist: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("websites exist: %w", err)
		}
		exist[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("websites exist: %w", err)
	}
	return exist, nil
}
