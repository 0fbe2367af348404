package schema

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// createRejected is the table legacy rows sitestat cannot store go to,
// untouched; schema.sql creates it too.
const createRejected = `CREATE TABLE IF NOT EXISTS website_status_rejected (
    website_id       integer,
    timestamp_utc    timestamptz,
    request_info     json,
    rejected_because text        NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now()
)`

// legacyFunctions derive the typed columns from a legacy request_info. They
// live in pg_temp, for the adopting session only. The rules (README,
// "Adopting the brief's database"):
//   - status_code: "status_code", else "status", else "code": an integer
//     100-599, as a JSON number or a string of digits; else NULL.
//   - response_time_ms: "response_time_ms" (a number, milliseconds), else
//     "response_time" (a number, seconds, × 1000); else NULL.
//   - up and reason: a boolean "up" with a well-formed "reason" that agrees
//     with it (a sitestat-shaped row) is kept; else a 2xx status_code is up
//     with reason ok, another status_code is down with reason http_status;
//     else "up": true is up with reason ok; else down with reason unknown.
const legacyFunctions = `
CREATE OR REPLACE FUNCTION pg_temp.sitestat_jsonb_ok(j json) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM j::jsonb;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

CREATE OR REPLACE FUNCTION pg_temp.sitestat_legacy_status(j jsonb) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) = 'number' AND v::text ~ '^[1-5][0-9][0-9]$' THEN v::text::smallint
        WHEN jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^[1-5][0-9][0-9]$' THEN (v #>> '{}')::smallint
    END
    FROM (SELECT coalesce(j->'status_code', j->'status', j->'code') AS v) s
$$;

CREATE OR REPLACE FUNCTION pg_temp.sitestat_legacy_rt(j jsonb) RETURNS real LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(j->'response_time_ms') = 'number' AND (j->>'response_time_ms')::float8 >= 0
            THEN least((j->>'response_time_ms')::float8, 3e38)::real
        WHEN jsonb_typeof(j->'response_time') = 'number' AND (j->>'response_time')::float8 >= 0
            THEN least((j->>'response_time')::float8 * 1000, 3e38)::real
    END
$$;

CREATE OR REPLACE FUNCTION pg_temp.sitestat_legacy_reason(j jsonb, code smallint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(j->'up') = 'boolean' AND jsonb_typeof(j->'reason') = 'string'
             AND (j->>'reason') ~ '^[a-z_]{1,32}$' AND (j->>'up')::boolean = ((j->>'reason') = 'ok')
            THEN j->>'reason'
        WHEN code BETWEEN 200 AND 299 THEN 'ok'
        WHEN code IS NOT NULL THEN 'http_status'
        WHEN jsonb_typeof(j->'up') = 'boolean' AND (j->>'up')::boolean THEN 'ok'
        ELSE 'unknown'
    END
$$;`

// adoption is what adopting a legacy website_status did.
type adoption struct {
	rows, nullSite, noInfo, notJSONB, old int64
}

// adoptLegacy turns a website_status as the brief defines it (request_info
// json, website_id nullable, no check_id or typed columns) into a version 1
// shaped table, in one transaction: rows with a NULL website_id or
// request_info, or a request_info jsonb cannot hold (a \u0000 escape), move
// untouched to website_status_rejected; request_info becomes jsonb; each row
// gets its check_id (request_info's when it is a UUID, else a generated one),
// probe "legacy" and the typed columns derived by legacyFunctions. The
// conversion to the partitioned table follows. It does nothing (nil) when
// website_status is missing, partitioned, or has a check_id column; in a dry
// run it only counts.
//
//nolint:funlen // the steps of adopting the brief's table, in the order of their one transaction.
func adoptLegacy(ctx context.Context, conn *sql.Conn, opts MigrateOptions, rep *Report) (*adoption, error) {
	var kind sql.NullString
	var hasCheckID bool
	if err := conn.QueryRowContext(ctx, `
		SELECT c.relkind::text, EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
		                                 WHERE a.attrelid = c.oid AND a.attname = 'check_id' AND NOT a.attisdropped)
		FROM pg_catalog.pg_class c WHERE c.oid = to_regclass('website_status')`).Scan(&kind, &hasCheckID); err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read website_status: %w", err)
	}
	if kind.String != "r" || hasCheckID {
		return nil, nil
	}
	live, err := inspect(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"website_id", "timestamp_utc", "request_info"} {
		if _, ok := live.column("website_status", c); !ok {
			return nil, fmt.Errorf("website_status has no column %s: it is neither the brief's table nor sitestat's; rename it and run sitestat migrate", c)
		}
	}
	var a adoption
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM website_status").Scan(&a.rows); err != nil {
		return nil, fmt.Errorf("count legacy rows: %w", err)
	}
	if opts.DryRun {
		rep.Actions = append(rep.Actions, fmt.Sprintf("adopt the brief's website_status: %d legacy rows get a check_id, probe legacy and typed columns", a.rows))
		return &a, nil
	}
	opts.Progress(fmt.Sprintf("adopting the brief's website_status: %d legacy rows", a.rows))
	start := time.Now()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	jsonType := live.tables["website_status"]["request_info"].udt == "json"
	stmts := []string{createRejected, legacyFunctions}
	notStorable := "false"
	if jsonType {
		notStorable = `(strpos(request_info::text, '\u0000') > 0 AND NOT pg_temp.sitestat_jsonb_ok(request_info))`
	}
	stmts = append(stmts, fmt.Sprintf(`
		CREATE TEMP TABLE sitestat_moved ON COMMIT DROP AS
		WITH moved AS (
			DELETE FROM website_status
			WHERE website_id IS NULL OR timestamp_utc IS NULL OR request_info IS NULL OR %s
			RETURNING website_id, timestamp_utc, request_info::json AS request_info
		)
		SELECT *, CASE WHEN website_id IS NULL THEN 'website_id is NULL'
		               WHEN timestamp_utc IS NULL THEN 'timestamp_utc is NULL'
		               WHEN request_info IS NULL THEN 'request_info is NULL'
		               ELSE 'request_info cannot be stored as jsonb' END AS why
		FROM moved`, notStorable),
		`INSERT INTO website_status_rejected (website_id, timestamp_utc, request_info, rejected_because)
		 SELECT website_id, timestamp_utc, request_info, why FROM sitestat_moved`)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("adopt website_status: %.60s: %w", s, err)
		}
	}
	if err := tx.QueryRowContext(ctx, `
		SELECT count(*) FILTER (WHERE website_id IS NULL),
		       count(*) FILTER (WHERE website_id IS NOT NULL AND (request_info IS NULL OR timestamp_utc IS NULL)),
		       count(*) FILTER (WHERE website_id IS NOT NULL AND request_info IS NOT NULL AND timestamp_utc IS NOT NULL)
		FROM sitestat_moved`).Scan(&a.nullSite, &a.noInfo, &a.notJSONB); err != nil {
		return nil, fmt.Errorf("adopt website_status: %w", err)
	}
	var typeChange []string
	if jsonType {
		typeChange = append(typeChange, "ALTER TABLE website_status ALTER COLUMN request_info TYPE jsonb USING request_info::jsonb")
	}
	stmts = append(typeChange,
		`ALTER TABLE website_status
			ALTER COLUMN website_id SET NOT NULL,
			ALTER COLUMN timestamp_utc SET NOT NULL,
			ALTER COLUMN request_info SET NOT NULL,
			ADD COLUMN IF NOT EXISTS check_id uuid,
			ADD COLUMN IF NOT EXISTS up boolean,
			ADD COLUMN IF NOT EXISTS reason text,
			ADD COLUMN IF NOT EXISTS status_code smallint,
			ADD COLUMN IF NOT EXISTS response_time_ms real,
			ADD COLUMN IF NOT EXISTS probe text NOT NULL DEFAULT 'legacy',
			ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT ''`,
		`UPDATE website_status SET
			check_id = CASE WHEN request_info->>'check_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
			                THEN (request_info->>'check_id')::uuid ELSE gen_random_uuid() END,
			status_code = coalesce(status_code, pg_temp.sitestat_legacy_status(request_info)),
			response_time_ms = coalesce(response_time_ms, pg_temp.sitestat_legacy_rt(request_info))
		 WHERE check_id IS NULL`,
		`UPDATE website_status SET
			reason = coalesce(reason, pg_temp.sitestat_legacy_reason(request_info, status_code))
		 WHERE reason IS NULL`,
		`UPDATE website_status SET up = (reason = 'ok') WHERE up IS NULL`,
		// Two legacy rows may carry the same check_id: the later copies get new ones.
		`UPDATE website_status s SET check_id = gen_random_uuid()
		 FROM (SELECT ctid AS row, row_number() OVER (PARTITION BY check_id, timestamp_utc ORDER BY ctid) AS n FROM website_status) d
		 WHERE s.ctid = d.row AND d.n > 1`,
		`ALTER TABLE website_status
			ALTER COLUMN check_id SET NOT NULL,
			ALTER COLUMN up SET NOT NULL,
			ALTER COLUMN reason SET NOT NULL,
			ALTER COLUMN probe SET DEFAULT 'default'`,
	)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("adopt website_status: %.60s: %w", s, err)
		}
		rep.Statements = append(rep.Statements, s)
	}
	if opts.RawRetention > 0 {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM website_status WHERE timestamp_utc < $1",
			time.Now().Add(-opts.RawRetention)).Scan(&a.old); err != nil {
			return nil, fmt.Errorf("adopt website_status: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("adopt website_status: commit: %w", err)
	}
	moved := a.nullSite + a.noInfo + a.notJSONB
	rep.Actions = append(rep.Actions,
		fmt.Sprintf("adopt the brief's website_status: %d legacy rows kept with a check_id, probe legacy and derived up, reason, status_code and response_time_ms",
			a.rows-moved),
		fmt.Sprintf("move %d legacy rows sitestat cannot store to website_status_rejected, untouched (%d with no website_id, %d with no request_info or timestamp, %d that jsonb cannot hold)",
			moved, a.nullSite, a.noInfo, a.notJSONB))
	if a.old > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"%d adopted rows are older than the raw retention (SITESTAT_RETENTION_RAW, %.0f days): the adopted rows become one partition, "+
				"website_status_phase1, which prune (sync runs it) drops whole, with all its rows, once its last day is older than the retention "+
				"(their rollups stay); to keep them, set SITESTAT_RETENTION_RAW=0 (or long enough) before sync or prune runs",
			a.old, opts.RawRetention.Hours()/24))
	}
	opts.Progress(fmt.Sprintf("adopted in %s", time.Since(start).Round(time.Millisecond)))
	return &a, nil
}
