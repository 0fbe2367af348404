package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/lib/pq"
	"github.com/sitestat/sitestat/contract"
)

// storedRow is what the rollups and site_probe_state need of one stored row.
type storedRow struct {
	websiteID  int64
	probe      string
	at         time.Time
	checkID    string
	up         bool
	reason     string
	statusCode sql.NullInt64
	rtMs       sql.NullFloat64 // as stored: a real
	errText    string
	host       string
	certUntil  time.Time // the certificate's not-after, zero when none (http, or no TLS)
}

// storedRowColumns is the RETURNING list scanStoredRows reads.
const storedRowColumns = "website_id, probe, timestamp_utc, check_id, up, reason, status_code, response_time_ms, " +
	"coalesce(request_info->>'error', ''), host, coalesce(request_info->>'cert_not_after', '')"

// rowOf returns the storedRow of a result as copyInto stores it.
func rowOf(r *contract.Result) storedRow {
	row := storedRow{
		websiteID: r.WebsiteID, probe: probeOf(r), at: storedTime(r.CheckedAt), checkID: r.CheckID,
		up: r.Up, reason: string(r.Reason), errText: r.Error, host: r.Host,
		// response_time_ms is a real: count what is stored.
		rtMs: sql.NullFloat64{Float64: float64(float32(r.ResponseTimeMs)), Valid: true},
	}
	if r.StatusCode != nil {
		row.statusCode = sql.NullInt64{Int64: int64(*r.StatusCode), Valid: true}
	}
	if r.CertNotAfter != nil {
		row.certUntil = r.CertNotAfter.UTC()
	}
	return row
}

// storedTime returns t as PostgreSQL stores it: rounded to the microsecond, UTC.
func storedTime(t time.Time) time.Time { return t.Round(time.Microsecond).UTC() }

// scanStoredRows reads the rows of a RETURNING storedRowColumns and closes q.
func scanStoredRows(q *sql.Rows) ([]storedRow, error) {
	defer q.Close()
	var out []storedRow
	for q.Next() {
		var r storedRow
		var cert string
		if err := q.Scan(&r.websiteID, &r.probe, &r.at, &r.checkID, &r.up, &r.reason, &r.statusCode,
			&r.rtMs, &r.errText, &r.host, &cert); err != nil {
			return nil, err
		}
		if t, err := time.Parse(time.RFC3339Nano, cert); err == nil {
			r.certUntil = t.UTC() // a value that does not parse is no certificate
		}
		r.at = r.at.UTC()
		// A real arrives as its shortest decimal text: back to its exact value.
		r.rtMs.Float64 = float64(float32(r.rtMs.Float64))
		out = append(out, r)
	}
	return out, q.Err()
}

// rollupKey identifies one row of a rollup table.
type rollupKey struct {
	websiteID int64
	probe     string
	at        time.Time // the hour, or the day at 00:00 UTC
}

// rollup is one row of a rollup table.
type rollup struct {
	checks, upChecks int64
	reasons          map[string]int64
	rtCount          int64
	rtSum            float64
	rtMin, rtMax     float64
	hist             Histogram
}

func (r *rollup) add(row *storedRow) {
	r.checks++
	if row.up {
		r.upChecks++
	} else {
		if r.reasons == nil {
			r.reasons = map[string]int64{}
		}
		r.reasons[row.reason]++
	}
	if row.rtMs.Valid {
		v := row.rtMs.Float64
		if r.rtCount == 0 || v < r.rtMin {
			r.rtMin = v
		}
		if r.rtCount == 0 || v > r.rtMax {
			r.rtMax = v
		}
		r.rtCount++
		r.rtSum += v
		if r.hist == nil {
			r.hist = Histogram{}
		}
		r.hist.Add(v)
	}
}

// aggregate sums rows into rollups keyed by truncating their time with trunc.
func aggregate(rows []storedRow, trunc func(time.Time) time.Time) (map[rollupKey]*rollup, []rollupKey) {
	out := map[rollupKey]*rollup{}
	var keys []rollupKey
	for i := range rows {
		k := rollupKey{rows[i].websiteID, rows[i].probe, trunc(rows[i].at)}
		r := out[k]
		if r == nil {
			r = &rollup{}
			out[k] = r
			keys = append(keys, k)
		}
		r.add(&rows[i])
	}
	// A stable order of upserts keeps two concurrent batches from deadlocking.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.websiteID != b.websiteID {
			return a.websiteID < b.websiteID
		}
		if a.probe != b.probe {
			return a.probe < b.probe
		}
		return a.at.Before(b.at)
	})
	return out, keys
}

func truncHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// applyRollups adds rows (each stored by this transaction) to the hourly
// rollups, and those before the merged hours (rollup_fold; late results) to
// the daily ones too, moves site_probe_state forward with its streaks, and
// opens and resolves the incidents they call for, inside tx.
func applyRollups(ctx context.Context, tx *sql.Tx, rows []storedRow, alerts AlertOptions, t *incidentTally) error {
	if len(rows) == 0 {
		return nil
	}
	folded, err := shareFold(ctx, tx)
	if err != nil {
		return err
	}
	if err := upsertRollups(ctx, tx, "website_status_hourly", "hour", "timestamptz", rows, truncHour); err != nil {
		return err
	}
	var late []storedRow
	for i := range rows {
		if rows[i].at.Before(folded) {
			late = append(late, rows[i])
		}
	}
	if len(late) > 0 {
		if err := markDaysWriter(ctx, tx); err != nil {
			return err
		}
		if err := upsertRollups(ctx, tx, "website_status_daily", "day", "date", late, utcDay); err != nil {
			return err
		}
	}
	if err := invalidateWindows(ctx, tx, rows); err != nil {
		return err
	}
	return applyState(ctx, tx, rows, alerts, t)
}

// invalidateWindows deletes the cached windows (website_status_window) of
// the websites that rows add checks to in a past UTC day: the late results,
// after their daily rows were updated. Most batches have none.
func invalidateWindows(ctx context.Context, tx *sql.Tx, rows []storedRow) error {
	today := utcDay(time.Now())
	seen := map[int64]bool{}
	var ids []int64
	for i := range rows {
		if rows[i].at.Before(today) && !seen[rows[i].websiteID] {
			seen[rows[i].websiteID] = true
			ids = append(ids, rows[i].websiteID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if _, err := tx.ExecContext(ctx, "DELETE FROM website_status_window WHERE website_id = ANY($1::integer[])", pq.Array(ids)); err != nil {
		return fmt.Errorf("update website_status_window: %w", err)
	}
	return nil
}

// histCompactAt is the length past which a stored histogram is merged into
// one element per bucket. Below it, an update appends the batch's elements
// (a bucket may then repeat; readers sum them), which costs a third of a
// merge: most updates of a busy table touch a row with one new check.
const histCompactAt = 48

// upsertRollups adds the aggregate of rows to table, whose time key is the
// column keyCol of SQL type keyType.
func upsertRollups(ctx context.Context, tx *sql.Tx, table, keyCol, keyType string, rows []storedRow,
	trunc func(time.Time) time.Time) error {
	aggs, keys := aggregate(rows, trunc)
	n := len(keys)
	var (
		ids      = make([]int64, n)
		probes   = make([]string, n)
		ats      = make([]string, n)
		checks   = make([]int64, n)
		ups      = make([]int64, n)
		reasons  = make([]string, n)
		rtCounts = make([]int64, n)
		rtSums   = make([]float64, n)
		rtMins   = make([]sql.NullFloat64, n)
		rtMaxs   = make([]sql.NullFloat64, n)
		hists    = make([]string, n)
	)
	for i, k := range keys {
		r := aggs[k]
		ids[i], probes[i], checks[i], ups[i] = k.websiteID, k.probe, r.checks, r.upChecks
		if keyType == "date" {
			ats[i] = k.at.Format("2006-01-02")
		} else {
			ats[i] = k.at.Format(time.RFC3339)
		}
		reasons[i] = "{}"
		if len(r.reasons) > 0 {
			b, err := json.Marshal(r.reasons)
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			reasons[i] = string(b)
		}
		rtCounts[i], rtSums[i] = r.rtCount, r.rtSum
		if r.rtCount > 0 {
			rtMins[i] = sql.NullFloat64{Float64: r.rtMin, Valid: true}
			rtMaxs[i] = sql.NullFloat64{Float64: r.rtMax, Valid: true}
		}
		hists[i] = r.hist.encodeText()
	}
	q := fmt.Sprintf(`
		INSERT INTO %[1]s AS t (website_id, probe, %[2]s, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist)
		SELECT id, probe, at::%[3]s, checks, ups, reasons::jsonb, rt_count, rt_sum, rt_min, rt_max, hist::bigint[]
		FROM unnest($1::integer[], $2::text[], $3::text[], $4::integer[], $5::integer[], $6::text[],
		            $7::integer[], $8::float8[], $9::real[], $10::real[], $11::text[])
		     AS u(id, probe, at, checks, ups, reasons, rt_count, rt_sum, rt_min, rt_max, hist)
		ON CONFLICT (website_id, probe, %[2]s) DO UPDATE SET
			checks = t.checks + excluded.checks,
			up_checks = t.up_checks + excluded.up_checks,
			reasons = CASE WHEN excluded.reasons = '{}' THEN t.reasons ELSE sitestat_counts_add(t.reasons, excluded.reasons) END,
			rt_count = t.rt_count + excluded.rt_count,
			rt_sum = t.rt_sum + excluded.rt_sum,
			rt_min = least(t.rt_min, excluded.rt_min),
			rt_max = greatest(t.rt_max, excluded.rt_max),
			rt_hist = CASE WHEN cardinality(t.rt_hist) + cardinality(excluded.rt_hist) > %[4]d
			               THEN sitestat_hist_add(t.rt_hist, excluded.rt_hist)
			               ELSE t.rt_hist || excluded.rt_hist END`, table, keyCol, keyType, histCompactAt)
	if _, err := tx.ExecContext(ctx, q, pq.Array(ids), pq.Array(probes), pq.Array(ats), pq.Array(checks),
		pq.Array(ups), pq.Array(reasons), pq.Array(rtCounts), pq.Array(rtSums), nullFloats(rtMins),
		nullFloats(rtMaxs), pq.Array(hists)); err != nil {
		return fmt.Errorf("update %s: %w", table, err)
	}
	return nil
}

// nullFloats renders a []sql.NullFloat64 as a PostgreSQL array literal.
func nullFloats(v []sql.NullFloat64) string {
	b := make([]byte, 0, 8*len(v)+2)
	b = append(b, '{')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if f.Valid && !math.IsNaN(f.Float64) && !math.IsInf(f.Float64, 0) {
			b = strconv.AppendFloat(b, f.Float64, 'g', -1, 64)
		} else {
			b = append(b, "NULL"...)
		}
	}
	return string(append(b, '}'))
}

// upsertState writes the states the batch moved to site_probe_state, unless
// the row there is later (a late result never moves it back).
func upsertState(ctx context.Context, tx *sql.Tx, states map[probeKey]*probeState) error {
	var keys []probeKey
	for k, st := range states {
		if st.changed {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].probe < keys[j].probe
	})
	n := len(keys)
	if n == 0 {
		return nil
	}
	var (
		ids       = make([]int64, n)
		probes    = make([]string, n)
		ats       = make([]string, n)
		checkID   = make([]string, n)
		ups       = make([]bool, n)
		reasons   = make([]string, n)
		codes     = make([]sql.NullFloat64, n)
		rts       = make([]sql.NullFloat64, n)
		errs      = make([]string, n)
		hosts     = make([]string, n)
		fails     = make([]int64, n)
		oks       = make([]int64, n)
		failing   = make([]bool, n)
		firstFail = make([]sql.NullString, n)
	)
	for i, k := range keys {
		st := states[k]
		r := &st.latest
		ids[i], probes[i], ats[i], checkID[i] = r.websiteID, r.probe, r.at.Format(time.RFC3339Nano), r.checkID
		ups[i], reasons[i], errs[i], hosts[i] = r.up, r.reason, r.errText, r.host
		codes[i] = sql.NullFloat64{Float64: float64(r.statusCode.Int64), Valid: r.statusCode.Valid}
		rts[i] = r.rtMs
		fails[i], oks[i], failing[i] = int64(st.failStreak), int64(st.okStreak), st.failing
		if st.firstFailAt.Valid {
			firstFail[i] = sql.NullString{String: st.firstFailAt.Time.Format(time.RFC3339Nano), Valid: true}
		}
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO site_probe_state AS s (website_id, probe, checked_at, check_id, up, reason, status_code,
		                                   response_time_ms, error, host, updated_at,
		                                   fail_streak, ok_streak, failing, first_fail_at)
		SELECT id, probe, at::timestamptz, check_id::uuid, up, reason, code::smallint, rt, err, host, now(),
		       fails, oks, failing, first_fail::timestamptz
		FROM unnest($1::integer[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[],
		            $7::float8[], $8::real[], $9::text[], $10::text[], $11::integer[], $12::integer[],
		            $13::boolean[], $14::text[])
		     AS u(id, probe, at, check_id, up, reason, code, rt, err, host, fails, oks, failing, first_fail)
		ON CONFLICT (website_id, probe) DO UPDATE SET
			checked_at = excluded.checked_at, check_id = excluded.check_id, up = excluded.up,
			reason = excluded.reason, status_code = excluded.status_code,
			response_time_ms = excluded.response_time_ms, error = excluded.error, host = excluded.host,
			updated_at = excluded.updated_at, fail_streak = excluded.fail_streak,
			ok_streak = excluded.ok_streak, failing = excluded.failing, first_fail_at = excluded.first_fail_at
		WHERE (excluded.checked_at, excluded.check_id) > (s.checked_at, s.check_id)`,
		pq.Array(ids), pq.Array(probes), pq.Array(ats), pq.Array(checkID), pq.Array(ups), pq.Array(reasons),
		nullFloats(codes), nullFloats(rts), pq.Array(errs), pq.Array(hosts), pq.Array(fails), pq.Array(oks),
		pq.Array(failing), nullStrings(firstFail))
	if err != nil {
		return fmt.Errorf("update site_probe_state: %w", err)
	}
	return nil
}

// nullStrings renders a []sql.NullString of plain values (no quotes,
// commas or braces: timestamps) as a PostgreSQL array literal.
func nullStrings(v []sql.NullString) string {
	b := make([]byte, 0, 32*len(v)+2)
	b = append(b, '{')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if s.Valid {
			b = append(b, '"')
			b = append(b, s.String...)
			b = append(b, '"')
		} else {
			b = append(b, "NULL"...)
		}
	}
	return string(append(b, '}'))
}
