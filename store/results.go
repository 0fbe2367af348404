package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/sitestat/sitestat/contract"
)

// resultColumns are the website_status columns InsertResults writes, in the
// order of the values copyInto sends.
const resultColumns = "website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms, probe, host"

// createStaging creates, once per connection, the temporary table a batch is
// copied into. Its rows vanish at every commit, so it is empty at the start
// of each batch; IF NOT EXISTS makes it a no-op on a connection that has it.
const createStaging = `CREATE TEMP TABLE IF NOT EXISTS sitestat_staging2 (
	website_id       integer,
	timestamp_utc    timestamptz,
	request_info     jsonb,
	check_id         uuid,
	up               boolean,
	reason           text,
	status_code      smallint,
	response_time_ms real,
	probe            text,
	host             text
) ON COMMIT DELETE ROWS`

// InsertResults stores a batch of results in website_status, each
// (check_id, checked_at) once, and returns how many rows it inserted. In the
// same transaction it adds the rows it inserted — and only those — to the
// hourly and daily rollups, and moves site_probe_state forward to the latest
// of them (a late result counts in its own hour but never moves the state
// back). request_info is the message as received (Result.Raw), or the Result
// encoded when Raw is nil; the typed columns copy its fields.
//
// Before the transaction it creates the day partitions the batch needs that
// are not known to exist (EnsurePartitions, its own short transaction); when
// the insert still finds one missing (dropped by hand) it creates it and
// tries once more.
//
// It first COPYs the batch straight into website_status, the fastest write
// PostgreSQL has, then adds the whole batch to the rollups. When the COPY
// fails on a duplicate (a redelivered batch, or the same check twice in the
// batch), it stores the batch again the slower way: COPY into a temporary
// table, then INSERT … ON CONFLICT DO NOTHING RETURNING, and adds only the
// rows returned. Each way is one transaction, so a batch is stored and
// counted whole or not at all. Errors wrap the *pq.Error when PostgreSQL
// rejected the batch (e.g. SQLSTATE 23503 for a website_id that does not
// exist).
func (db *DB) InsertResults(ctx context.Context, results []contract.Result) (int, error) {
	if len(results) == 0 {
		return 0, nil
	}
	if err := db.ensureBatchPartitions(ctx, results); err != nil {
		return 0, fmt.Errorf("insert results: %w", err)
	}
	n, err := db.insertResults(ctx, results)
	if isNoPartition(err) {
		db.parts.reset()
		if err := db.ensureBatchPartitions(ctx, results); err != nil {
			return 0, fmt.Errorf("insert results: %w", err)
		}
		n, err = db.insertResults(ctx, results)
	}
	if err != nil {
		return 0, fmt.Errorf("insert results: %w", err)
	}
	return n, nil
}

// ensureBatchPartitions creates the partitions of the batch's days unless
// they are all known to exist.
func (db *DB) ensureBatchPartitions(ctx context.Context, results []contract.Result) error {
	lo, hi := storedTime(results[0].CheckedAt), storedTime(results[0].CheckedAt)
	for i := range results {
		t := storedTime(results[i].CheckedAt)
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	days := daysBetween(lo, hi)
	if len(days) > 3 {
		// A batch spread over many days (a re-send after an outage): ask
		// for exactly the days it has.
		seen := map[time.Time]bool{}
		days = days[:0]
		for i := range results {
			if d := utcDay(storedTime(results[i].CheckedAt)); !seen[d] {
				seen[d] = true
				days = append(days, d)
			}
		}
	}
	if db.parts.has(days) {
		return nil
	}
	for _, d := range days {
		if _, err := db.EnsurePartitions(ctx, d, d); err != nil {
			return err
		}
	}
	return nil
}

// insertResults stores the batch by COPY, or by the staged insert when the
// COPY meets a duplicate.
func (db *DB) insertResults(ctx context.Context, results []contract.Result) (int, error) {
	n, err := db.copyResults(ctx, results)
	if pq.As(err, pqerror.UniqueViolation) != nil {
		n, err = db.insertStaged(ctx, results)
	}
	return n, err
}

// copyResults COPYs the batch into website_status and adds it all to the
// rollups and state, in one transaction.
func (db *DB) copyResults(ctx context.Context, results []contract.Result) (int, error) {
	tx, err := db.db.BeginTx(ctx, readCommitted)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := copyInto(ctx, tx, "website_status", results); err != nil {
		return 0, err
	}
	rows := make([]storedRow, len(results))
	for i := range results {
		rows[i] = rowOf(&results[i])
	}
	var t incidentTally
	if err := applyRollups(ctx, tx, rows, db.alerts, &t); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	db.tally.add(t)
	return len(results), nil
}

// insertStaged COPYs the batch into the connection's staging table, inserts
// it into website_status skipping the checks already stored, and adds the
// rows inserted to the rollups and state, in one transaction.
func (db *DB) insertStaged(ctx context.Context, results []contract.Result) (int, error) {
	tx, err := db.db.BeginTx(ctx, readCommitted)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createStaging); err != nil {
		return 0, fmt.Errorf("create staging table: %w", err)
	}
	if err := copyInto(ctx, tx, "sitestat_staging2", results); err != nil {
		return 0, err
	}
	q, err := tx.QueryContext(ctx, "INSERT INTO website_status ("+resultColumns+") SELECT "+resultColumns+
		" FROM sitestat_staging2 ON CONFLICT (check_id, timestamp_utc) DO NOTHING"+
		" RETURNING "+storedRowColumns)
	if err != nil {
		return 0, err
	}
	rows, err := scanStoredRows(q)
	if err != nil {
		return 0, err
	}
	var t incidentTally
	if err := applyRollups(ctx, tx, rows, db.alerts, &t); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	db.tally.add(t)
	return len(rows), nil
}

// copyInto COPYs results into the resultColumns of table.
func copyInto(ctx context.Context, tx *sql.Tx, table string, results []contract.Result) error {
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
			r.Up, string(r.Reason), status, r.ResponseTimeMs, probeOf(r), r.Host); err != nil {
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

// probeOf returns the probe a result is stored under: its own, or
// contract.DefaultProbe when it has none.
func probeOf(r *contract.Result) string {
	if r.Probe == "" {
		return contract.DefaultProbe
	}
	return r.Probe
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
