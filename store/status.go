package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/sitestat/sitestat/contract"
)

// LastCheck is the latest stored check of a website by one probe.
type LastCheck struct {
	// Up is whether the check succeeded.
	Up bool
	// Reason says why the check came out as it did.
	Reason contract.Reason
	// StatusCode is nil when no response arrived.
	StatusCode *int
	// ResponseTimeMs is nil when the row has none.
	ResponseTimeMs *float64
	// CheckedAt is when the check started, in UTC.
	CheckedAt time.Time
	// Error is the check's error text, "" when up.
	Error string
	// Host is the machine that made the check.
	Host string
}

// ProbeStatus is the state of a website as one probe last saw it.
type ProbeStatus struct {
	// Probe is the checking location.
	Probe string
	// Last is its latest check.
	Last LastCheck
	// Stale is true when Last is older than StaleAfter(interval) at the
	// time asked: nobody is checking the site from there.
	Stale bool
	// FailStreak counts the probe's latest failed checks in a row.
	FailStreak int
	// Failing is whether the probe crossed the site's failure threshold and
	// has not passed its success threshold since.
	Failing bool
}

// OpenIncident is a website's open down incident.
type OpenIncident struct {
	// ID is incidents.id.
	ID int64
	// StartedAt is the first failing check's checked_at.
	StartedAt time.Time
}

// StaleAfter is how old a site's latest check may be before the site shows
// as STALE: three intervals, at least a minute.
func StaleAfter(interval time.Duration) time.Duration {
	return max(3*interval, time.Minute)
}

// SiteStatus is one website's state for `sitestat status`.
type SiteStatus struct {
	// ID is websites.id.
	ID int64
	// URL is the website's URL.
	URL string
	// Name is the website's name, "" when none.
	Name string
	// Public is websites.public: false for a private website, which
	// `sitestat serve` shows to authenticated requests only.
	Public bool
	// Interval is the website's check interval.
	Interval time.Duration
	// Regex is the website's up_regex, "" when none.
	Regex string
	// Probes is the state per probe that ever checked it, by probe name.
	Probes []ProbeStatus
	// Last is the latest check of any probe, nil when the site was never checked.
	Last *LastCheck
	// Stale is true when every probe's latest check is stale.
	Stale bool
	// AlertAfter is the site's failure threshold (its own or sync's
	// default); 0 when alerting is off for it.
	AlertAfter int
	// Incident is the open down incident, nil when none: a site is down
	// only then.
	Incident *OpenIncident
	// Maintenance is true when a maintenance window covers the site now.
	Maintenance bool
	// Checks is how many checks fall in the window.
	Checks int64
	// UptimePct is the percentage of the window's checks that were up; nil
	// when the window has none.
	UptimePct *float64
	// P95ResponseMs is the 95th percentile of the window's response times,
	// over every check whatever its outcome, read from the rollups'
	// histograms (within 5%); nil when none.
	P95ResponseMs *float64
	// AvailabilityPct is 100 × (1 − Downtime ÷ the window since the site was
	// added): the share of the time the site was not down by the alert
	// quorum's verdict, whatever single probes saw. nil when the window has
	// no checks or alerting is off for the site (it then has no incidents).
	AvailabilityPct *float64
	// Downtime is the time in the window covered by down incidents (open
	// ones up to now).
	Downtime time.Duration
}

// windowAgg is what the rollups say about one website over a window, and
// what its down incidents say.
type windowAgg struct {
	checks, up int64
	p95        *float64
	// span is the part of the window since the website was added; down the
	// part of it in down incidents; alerting whether the website has
	// incidents at all (alert_after > 0).
	span, down time.Duration
	alerting   bool
}

// Status returns the state of every website, by id: its state now per probe
// (site_probe_state; stale ones marked as of now), and over the window the
// number of checks, the uptime and the 95th percentile response time, from
// the rollups. Checks and uptime cover the window widened to whole hours (it
// starts at the hour now-window falls in). A window of two whole days or
// more reads its whole days from website_status_window, filled first when
// missing (once a day per window length; see fillWindows), and its p95 covers
// whole UTC days (from the midnight the window starts in); a shorter one
// merges hourly rows. Its cost does not grow with the raw table.
func (db *DB) Status(ctx context.Context, window time.Duration, now time.Time) ([]SiteStatus, error) {
	cached, err := db.fillWindows(ctx, 0, now.Add(-window), now)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return db.status(ctx, window, now, cached, true)
}

// status reads every website's state and its aggregates over window in one
// repeatable-read transaction; cached says the long window's whole days are
// in website_status_window, withP95 whether histograms are merged.
func (db *DB) status(ctx context.Context, window time.Duration, now time.Time, cached, withP95 bool) ([]SiteStatus, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	defer tx.Rollback()
	sites, err := readSites(ctx, tx, 0, now, db.alerts)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	aggs, err := windowAggs(ctx, tx, nil, now.Add(-window), now, cached, withP95, db.alerts.withDefaults().FailureThreshold)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	for i := range sites {
		applyAgg(&sites[i], aggs[sites[i].ID])
	}
	return sites, nil
}

// window returns a as the WindowStatus of a window of length w.
func (a windowAgg) window(w time.Duration) WindowStatus {
	var s SiteStatus
	applyAgg(&s, a)
	return WindowStatus{Window: w, Checks: s.Checks, UptimePct: s.UptimePct, P95ResponseMs: s.P95ResponseMs,
		AvailabilityPct: s.AvailabilityPct, Downtime: s.Downtime}
}

func applyAgg(s *SiteStatus, a windowAgg) {
	s.Checks = a.checks
	if a.checks > 0 {
		pct := 100 * float64(a.up) / float64(a.checks)
		s.UptimePct = &pct
		if a.alerting && a.span > 0 {
			av := 100 * (1 - float64(min(a.down, a.span))/float64(a.span))
			s.AvailabilityPct = &av
		}
	}
	s.Downtime = a.down
	s.P95ResponseMs = a.p95
}

// windowDowntimeSQL returns, per website ($3: ids, NULL: all), the part of
// the window [$1, $2] since it was added, the part of that in down
// incidents (open ones up to $2), and whether it alerts at all ($4: sync's
// failure threshold).
const windowDowntimeSQL = `
	WITH w AS (
		SELECT id, greatest($1::timestamptz, created_at) AS since, coalesce(alert_after, $4) > 0 AS alerting
		FROM websites WHERE $3::int[] IS NULL OR id = ANY($3::int[])
	), d AS (
		SELECT i.website_id, sum(extract(epoch FROM least(coalesce(i.resolved_at, $2), $2) - greatest(i.started_at, w.since))) AS down
		FROM incidents i JOIN w ON w.id = i.website_id
		WHERE i.kind = 'down' AND i.started_at < $2 AND (i.resolved_at IS NULL OR i.resolved_at > w.since)
		GROUP BY 1
	)
	SELECT w.id, greatest(extract(epoch FROM $2 - w.since), 0), coalesce(d.down, 0), w.alerting
	FROM w LEFT JOIN d ON d.website_id = w.id`

// readSites reads the websites (one when id > 0), their probes' state and
// streaks, their open down incident and whether they are in maintenance.
func readSites(ctx context.Context, tx *sql.Tx, id int64, now time.Time, alerts AlertOptions) ([]SiteStatus, error) {
	alerts = alerts.withDefaults()
	rows, err := tx.QueryContext(ctx, `
		SELECT w.id, w.url, w.name, w.public, w.check_interval, coalesce(w.up_regex, ''), coalesce(w.alert_after, $2),
		       i.id, i.started_at, `+maintenanceNowSQL+`,
		       s.probe, s.checked_at, s.up, s.reason, s.status_code, s.response_time_ms, s.error, s.host,
		       s.fail_streak, s.failing
		FROM websites w
		LEFT JOIN site_probe_state s ON s.website_id = w.id
		LEFT JOIN incidents i ON i.website_id = w.id AND i.kind = 'down' AND i.resolved_at IS NULL
		WHERE $1 = 0 OR w.id = $1
		ORDER BY w.id, s.probe`, id, alerts.FailureThreshold, now)
	if err != nil {
		return nil, fmt.Errorf("read websites: %w", err)
	}
	defer rows.Close()
	var out []SiteStatus
	for rows.Next() {
		var (
			sid       int64
			url, re   string
			name      string
			public    bool
			interval  int64
			probe     sql.NullString
			checkedAt sql.NullTime
			up        sql.NullBool
			reason    sql.NullString
			code      sql.NullInt64
			rt        sql.NullFloat64
			errText   sql.NullString
			host      sql.NullString
			alertAt   int
			incident  sql.NullInt64
			started   sql.NullTime
			maint     bool
			streak    sql.NullInt64
			failing   sql.NullBool
		)
		if err := rows.Scan(&sid, &url, &name, &public, &interval, &re, &alertAt, &incident, &started, &maint,
			&probe, &checkedAt, &up, &reason, &code, &rt, &errText, &host, &streak, &failing); err != nil {
			return nil, fmt.Errorf("read websites: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != sid {
			st := SiteStatus{ID: sid, URL: url, Name: name, Public: public, Interval: time.Duration(interval) * time.Second, Regex: re,
				AlertAfter: alertAt, Maintenance: maint}
			if incident.Valid {
				st.Incident = &OpenIncident{ID: incident.Int64, StartedAt: started.Time.UTC()}
			}
			out = append(out, st)
		}
		s := &out[len(out)-1]
		if !probe.Valid {
			continue
		}
		last := LastCheck{Up: up.Bool, Reason: contract.Reason(reason.String), CheckedAt: checkedAt.Time.UTC(),
			Error: errText.String, Host: host.String}
		if code.Valid {
			c := int(code.Int64)
			last.StatusCode = &c
		}
		if rt.Valid {
			v := rt.Float64
			last.ResponseTimeMs = &v
		}
		stale := now.Sub(last.CheckedAt) > StaleAfter(s.Interval)
		s.Probes = append(s.Probes, ProbeStatus{Probe: probe.String, Last: last, Stale: stale,
			FailStreak: int(streak.Int64), Failing: failing.Bool})
		if s.Last == nil || last.CheckedAt.After(s.Last.CheckedAt) {
			l := last
			s.Last = &l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read websites: %w", err)
	}
	for i := range out {
		s := &out[i]
		s.Stale = len(s.Probes) > 0
		for _, p := range s.Probes {
			s.Stale = s.Stale && p.Stale
		}
	}
	return out, nil
}

// The window queries: $1 the window's first hour, $2 now, $3 website ids
// (NULL: all), $4 to $5 its whole days ($4 = $5 when none), $6 their number.
// Counts come from the hourly rows outside the whole days and from either
// the daily rows of those days or their cached merge (website_status_window);
// the histograms likewise, except that a cached window takes the daily rows
// of its first and current days whole. The histograms are merged in Go: a
// GROUP BY over their elements costs PostgreSQL four times more.
const (
	windowCountsSQL = `
		SELECT website_id, sum(checks)::bigint, sum(up_checks)::bigint FROM (
			SELECT website_id, checks, up_checks FROM website_status_hourly
			WHERE hour >= $1 AND hour <= $2 AND ($3::int[] IS NULL OR website_id = ANY($3::int[])) AND NOT (hour >= $4 AND hour < $5)
			UNION ALL
			SELECT website_id, checks, up_checks FROM ` + rollupDaysSQL + ` d
			WHERE day >= ($4::timestamptz AT TIME ZONE 'UTC')::date AND day < ($5::timestamptz AT TIME ZONE 'UTC')::date
			  AND ($3::int[] IS NULL OR website_id = ANY($3::int[]))
		) r GROUP BY 1`
	windowHistSQL = `
		SELECT website_id, rt_hist FROM website_status_hourly
		WHERE hour >= $1 AND hour <= $2 AND ($3::int[] IS NULL OR website_id = ANY($3::int[])) AND NOT (hour >= $4 AND hour < $5)
		  AND cardinality(rt_hist) > 0
		UNION ALL
		SELECT website_id, rt_hist FROM ` + rollupDaysSQL + ` d
		WHERE day >= ($4::timestamptz AT TIME ZONE 'UTC')::date AND day < ($5::timestamptz AT TIME ZONE 'UTC')::date
		  AND ($3::int[] IS NULL OR website_id = ANY($3::int[])) AND cardinality(rt_hist) > 0`
	windowCachedCountsSQL = `
		SELECT website_id, sum(checks)::bigint, sum(up_checks)::bigint FROM (
			SELECT website_id, checks, up_checks FROM website_status_hourly
			WHERE hour >= $1 AND hour <= $2 AND ($3::int[] IS NULL OR website_id = ANY($3::int[])) AND NOT (hour >= $4 AND hour < $5)
			UNION ALL
			SELECT website_id, checks, up_checks FROM website_status_window
			WHERE days = $6 AND through = ($5::timestamptz AT TIME ZONE 'UTC')::date AND ($3::int[] IS NULL OR website_id = ANY($3::int[]))
		) r GROUP BY 1`
	windowCachedHistSQL = `
		SELECT website_id, rt_hist FROM website_status_window
		WHERE days = $6 AND through = ($5::timestamptz AT TIME ZONE 'UTC')::date AND ($3::int[] IS NULL OR website_id = ANY($3::int[]))
		  AND cardinality(rt_hist) > 0 AND $2::timestamptz IS NOT NULL -- (every parameter is used)
		UNION ALL
		SELECT website_id, rt_hist FROM ` + rollupDaysSQL + ` d
		WHERE (day = ($5::timestamptz AT TIME ZONE 'UTC')::date
		       OR (day = ($1::timestamptz AT TIME ZONE 'UTC')::date AND $1::timestamptz < $4::timestamptz))
		  AND ($3::int[] IS NULL OR website_id = ANY($3::int[])) AND cardinality(rt_hist) > 0`
)

// minCachedDays is the fewest whole days a window needs to be read from
// website_status_window.
const minCachedDays = 2

// fillWindows makes website_status_window hold, for every website (one when
// id > 0) with daily rows in the whole days of the window from..now, their
// merge, and reports whether the window can be read from it. In its own
// short transaction it locks the table against sync's deletions (a late
// result deletes its website's rows after updating the daily rows: either it
// waits for this fill, then deletes, or this fill waits and sees its rows),
// then merges the daily rows of the websites whose row is missing or older.
// A database user without the right to write it makes it report false.
func (db *DB) fillWindows(ctx context.Context, id int64, from, now time.Time) (bool, error) {
	_, dayFrom, dayTo := windowBounds(from, now)
	days := int(dayTo.Sub(dayFrom) / day)
	if days < minCachedDays {
		return false, nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// The merge groups millions of histogram elements: let it hash in memory.
	if _, err := tx.ExecContext(ctx, "SET LOCAL work_mem = '64MB'"); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE website_status_window IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		if pq.As(err, pqerror.InsufficientPrivilege) != nil {
			return false, nil
		}
		return false, fmt.Errorf("lock website_status_window: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
		WITH d AS (
			SELECT d.website_id, d.checks, d.up_checks, d.rt_hist FROM `+rollupDaysSQL+` d
			WHERE d.day >= $1::date AND d.day < $2::date AND ($4 = 0 OR d.website_id = $4)
			  AND NOT EXISTS (SELECT 1 FROM website_status_window w
			                  WHERE w.website_id = d.website_id AND w.days = $3 AND w.through = $2::date)
		), t AS (
			SELECT website_id, sum(checks)::bigint AS checks, sum(up_checks)::bigint AS up_checks FROM d GROUP BY 1
		), h AS (
			SELECT website_id, array_agg((b << 32) | n ORDER BY b) AS hist
			FROM (SELECT website_id, e >> 32 AS b, sum(e & 4294967295)::bigint AS n FROM d, unnest(rt_hist) e GROUP BY 1, 2) x
			GROUP BY 1
		)
		INSERT INTO website_status_window AS w (website_id, days, through, checks, up_checks, rt_hist)
		SELECT t.website_id, $3, $2::date, t.checks, t.up_checks, coalesce(h.hist, '{}')
		FROM t LEFT JOIN h USING (website_id)
		ON CONFLICT (website_id, days) DO UPDATE SET
			through = excluded.through, checks = excluded.checks, up_checks = excluded.up_checks, rt_hist = excluded.rt_hist`,
		dayFrom.Format("2006-01-02"), dayTo.Format("2006-01-02"), days, id)
	if err != nil {
		return false, fmt.Errorf("fill website_status_window: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("fill website_status_window: commit: %w", err)
	}
	return true, nil
}

// windowBounds returns where a window from..now reads hourly rows ([start,
// now]) and where daily ones ([dayFrom, dayTo); empty for short windows).
func windowBounds(from, now time.Time) (start, dayFrom, dayTo time.Time) {
	start = from.UTC().Truncate(time.Hour)
	dayFrom = utcDay(start)
	if !dayFrom.Equal(start) {
		dayFrom = dayFrom.Add(day)
	}
	dayTo = utcDay(now)
	if !dayTo.After(dayFrom) {
		dayFrom, dayTo = start, start // no whole day: hours only
	}
	return start, dayFrom, dayTo
}

// windowAggs sums the rollups per website (those of ids; nil: all) over from..now
// (and, withP95, merges their histograms for the p95),
// reading the whole days from website_status_window when cached (fillWindows
// returned true), and merges their histograms for the p95.
func windowAggs(ctx context.Context, tx *sql.Tx, ids []int64, from, now time.Time, cached, withP95 bool, failureThreshold int) (map[int64]windowAgg, error) {
	start, dayFrom, dayTo := windowBounds(from, now)
	counts, hists := windowCountsSQL, windowHistSQL
	args := []any{start, now, pq.Int64Array(ids), dayFrom, dayTo}
	if cached {
		counts, hists = windowCachedCountsSQL, windowCachedHistSQL
		args = append(args, int(dayTo.Sub(dayFrom)/day))
	}
	out := map[int64]windowAgg{}
	rows, err := tx.QueryContext(ctx, counts, args...)
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	for rows.Next() {
		var sid int64
		var a windowAgg
		if err := rows.Scan(&sid, &a.checks, &a.up); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read rollups: %w", err)
		}
		out[sid] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	rows, err = tx.QueryContext(ctx, windowDowntimeSQL, from, now, pq.Int64Array(ids), failureThreshold)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	for rows.Next() {
		var sid int64
		var span, down float64
		var alerting bool
		if err := rows.Scan(&sid, &span, &down, &alerting); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		a := out[sid]
		a.span, a.down, a.alerting = seconds(span), seconds(down), alerting
		out[sid] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	if !withP95 {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, hists, args...)
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	defer rows.Close()
	merged := map[int64]Histogram{}
	var enc []int64
	for rows.Next() {
		var sid int64
		enc = enc[:0]
		if err := rows.Scan(&sid, pq.Array(&enc)); err != nil {
			return nil, fmt.Errorf("read rollups: %w", err)
		}
		h := merged[sid]
		if h == nil {
			h = Histogram{}
			merged[sid] = h
		}
		h.addEncoded(enc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	for sid, h := range merged {
		if v, ok := h.Quantile(0.95); ok {
			a := out[sid]
			a.p95 = &v
			out[sid] = a
		}
	}
	return out, nil
}

// DayStatus is one UTC day of a website's history, all probes together.
type DayStatus struct {
	// Day is the day's start.
	Day time.Time
	// Checks and UpChecks count its checks.
	Checks, UpChecks int64
	// P50Ms and P95Ms are percentiles of its response times (within 5%);
	// nil when it has none.
	P50Ms, P95Ms *float64
}

// UptimePct returns the day's uptime in percent, nil without checks.
func (d DayStatus) UptimePct() *float64 {
	if d.Checks == 0 {
		return nil
	}
	v := 100 * float64(d.UpChecks) / float64(d.Checks)
	return &v
}

// FailedCheck is one failed check of a website.
type FailedCheck struct {
	CheckedAt  time.Time
	Probe      string
	Reason     contract.Reason
	StatusCode *int
	Error      string
}

// WindowStatus is a website's uptime over one window.
type WindowStatus struct {
	// Window is the window's length.
	Window time.Duration
	// Checks in it.
	Checks int64
	// UptimePct is nil without checks.
	UptimePct *float64
	// P95ResponseMs is nil without checks.
	P95ResponseMs *float64
	// AvailabilityPct and Downtime are as in SiteStatus.
	AvailabilityPct *float64
	Downtime        time.Duration
	// Probes is the uptime of the window's checks per probe, by probe name
	// (SiteDetail only).
	Probes []ProbeUptime
}

// ProbeUptime is the share of one probe's checks of a website that were up
// over a window, from the rollups.
type ProbeUptime struct {
	Probe  string
	Checks int64
	// UptimePct is nil without checks.
	UptimePct *float64
}

// windowProbesSQL counts one website's ($3) checks per probe over the window
// (the parameters of windowCountsSQL; the whole days from the days' rollups).
const windowProbesSQL = `
	SELECT probe, sum(checks)::bigint, sum(up_checks)::bigint FROM (
		SELECT probe, checks, up_checks FROM website_status_hourly
		WHERE hour >= $1 AND hour <= $2 AND website_id = $3 AND NOT (hour >= $4 AND hour < $5)
		UNION ALL
		SELECT probe, checks, up_checks FROM ` + rollupDaysSQL + ` d
		WHERE day >= ($4::timestamptz AT TIME ZONE 'UTC')::date AND day < ($5::timestamptz AT TIME ZONE 'UTC')::date
		  AND website_id = $3
	) r GROUP BY 1 ORDER BY 1`

// probeUptimes reads website id's uptime per probe over from..now.
func probeUptimes(ctx context.Context, tx *sql.Tx, id int64, from, now time.Time) ([]ProbeUptime, error) {
	start, dayFrom, dayTo := windowBounds(from, now)
	rows, err := tx.QueryContext(ctx, windowProbesSQL, start, now, id, dayFrom, dayTo)
	if err != nil {
		return nil, fmt.Errorf("read rollups per probe: %w", err)
	}
	defer rows.Close()
	var out []ProbeUptime
	for rows.Next() {
		var p ProbeUptime
		var up int64
		if err := rows.Scan(&p.Probe, &p.Checks, &up); err != nil {
			return nil, fmt.Errorf("read rollups per probe: %w", err)
		}
		if p.Checks > 0 {
			v := 100 * float64(up) / float64(p.Checks)
			p.UptimePct = &v
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups per probe: %w", err)
	}
	return out, nil
}

// SiteDetail is one website in detail, for `sitestat status ID`.
type SiteDetail struct {
	SiteStatus
	// Windows are the uptimes over 24 h, 7, 30 and 90 days (or the windows
	// asked for).
	Windows []WindowStatus
	// Days are the last 90 UTC days, oldest first, today included.
	Days []DayStatus
	// Failed are the last failed checks still in raw history (10 unless
	// asked otherwise), newest first.
	Failed []FailedCheck
}

// DetailWindows are the windows SiteDetail reports.
var DetailWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour}

// DetailOptions chooses what SiteDetailWith reads.
type DetailOptions struct {
	// Windows are the uptime windows; nil means DetailWindows.
	Windows []time.Duration
	// Failed is how many failed checks to read; 0 means 10.
	Failed int
	// NoCache reads the daily rows of long windows directly instead of
	// filling website_status_window first: no write, no table lock (what a
	// read-only role such as serve wants; one website's daily rows are few).
	NoCache bool
}

// SiteDetail returns one website in detail as of now: its settings and state
// per probe, its uptime over DetailWindows, its last 90 days (daily uptime and
// p50/p95), and its last 10 failed checks. It wraps ErrNotFound when there is
// no such website.
func (db *DB) SiteDetail(ctx context.Context, id int64, now time.Time) (SiteDetail, error) {
	return db.SiteDetailWith(ctx, id, now, DetailOptions{})
}

// SiteDetailWith is SiteDetail over the windows and with the number of
// failed checks of opts.
//
//nolint:funlen // every section of a site's detail read in one repeatable-read transaction, so they agree.
func (db *DB) SiteDetailWith(ctx context.Context, id int64, now time.Time, opts DetailOptions) (SiteDetail, error) {
	windows := opts.Windows
	if windows == nil {
		windows = DetailWindows
	}
	if opts.Failed <= 0 {
		opts.Failed = 10
	}
	var d SiteDetail
	cached := make([]bool, len(windows))
	for i, w := range windows {
		if opts.NoCache {
			break
		}
		var err error
		if cached[i], err = db.fillWindows(ctx, id, now.Add(-w), now); err != nil {
			return d, fmt.Errorf("site %d: %w", id, err)
		}
	}
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return d, fmt.Errorf("site %d: %w", id, err)
	}
	defer tx.Rollback()
	sites, err := readSites(ctx, tx, id, now, db.alerts)
	if err != nil {
		return d, fmt.Errorf("site %d: %w", id, err)
	}
	if len(sites) == 0 {
		return d, fmt.Errorf("site %d: %w", id, ErrNotFound)
	}
	d.SiteStatus = sites[0]
	for i, w := range windows {
		aggs, err := windowAggs(ctx, tx, []int64{id}, now.Add(-w), now, cached[i], true, db.alerts.withDefaults().FailureThreshold)
		if err != nil {
			return d, fmt.Errorf("site %d: %w", id, err)
		}
		if i == 0 {
			applyAgg(&d.SiteStatus, aggs[id])
		}
		win := aggs[id].window(w)
		if win.Probes, err = probeUptimes(ctx, tx, id, now.Add(-w), now); err != nil {
			return d, fmt.Errorf("site %d: %w", id, err)
		}
		d.Windows = append(d.Windows, win)
	}

	first := utcDay(now).Add(-89 * day)
	byDay := map[time.Time]*DayStatus{}
	for i := range 90 {
		d.Days = append(d.Days, DayStatus{Day: first.Add(time.Duration(i) * day)})
	}
	for i := range d.Days {
		byDay[d.Days[i].Day] = &d.Days[i]
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT day, checks, up_checks, rt_hist FROM `+rollupDaysSQL+` d
		WHERE website_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date`, id, first)
	if err != nil {
		return d, fmt.Errorf("site %d: read days: %w", id, err)
	}
	hists := map[time.Time]Histogram{}
	for rows.Next() {
		var at time.Time
		var checks, up int64
		var hist []int64
		if err := rows.Scan(&at, &checks, &up, pq.Array(&hist)); err != nil {
			rows.Close()
			return d, fmt.Errorf("site %d: read days: %w", id, err)
		}
		at = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		ds := byDay[at]
		if ds == nil {
			continue
		}
		ds.Checks += checks
		ds.UpChecks += up
		if hists[at] == nil {
			hists[at] = Histogram{}
		}
		hists[at].addEncoded(hist)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("site %d: read days: %w", id, err)
	}
	for at, h := range hists {
		ds := byDay[at]
		if v, ok := h.Quantile(0.5); ok {
			ds.P50Ms = &v
		}
		if v, ok := h.Quantile(0.95); ok {
			ds.P95Ms = &v
		}
	}

	rows, err = tx.QueryContext(ctx, `
		SELECT timestamp_utc, probe, reason, status_code, coalesce(request_info->>'error', '')
		FROM website_status WHERE website_id = $1 AND NOT up
		ORDER BY timestamp_utc DESC LIMIT $2`, id, opts.Failed)
	if err != nil {
		return d, fmt.Errorf("site %d: read failed checks: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var f FailedCheck
		var reason string
		var code sql.NullInt64
		if err := rows.Scan(&f.CheckedAt, &f.Probe, &reason, &code, &f.Error); err != nil {
			return d, fmt.Errorf("site %d: read failed checks: %w", id, err)
		}
		f.CheckedAt, f.Reason = f.CheckedAt.UTC(), contract.Reason(reason)
		if code.Valid {
			c := int(code.Int64)
			f.StatusCode = &c
		}
		d.Failed = append(d.Failed, f)
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("site %d: read failed checks: %w", id, err)
	}
	sort.SliceStable(d.Failed, func(i, j int) bool { return d.Failed[i].CheckedAt.After(d.Failed[j].CheckedAt) })
	return d, nil
}

// seconds converts a number of seconds to a Duration, to the microsecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}
