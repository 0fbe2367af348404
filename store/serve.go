package store

// The reads behind `sitestat serve` (the status page, its JSON API and
// badges). Every method reads a page of websites in a fixed number of
// queries, never one per website.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/sitestat/sitestat/contract"
)

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// StatusNoP95 is Status over a window shorter than two days without the
// p95 (no histogram is read, so it costs a fraction of Status): the state of
// every website and its checks and uptime over the window, exact to the hour.
func (db *DB) StatusNoP95(ctx context.Context, window time.Duration, now time.Time) ([]SiteStatus, error) {
	return db.status(ctx, window, now, false, false)
}

// SiteStates returns the state of every website as of now, by id, with its name:
// what site_probe_state says per probe, without windows. It reads two
// tables once, whatever the number of websites.
func (db *DB) SiteStates(ctx context.Context, now time.Time) ([]SiteStatus, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("site states: %w", err)
	}
	defer tx.Rollback()
	sites, err := readSites(ctx, tx, 0, now, db.alerts)
	if err != nil {
		return nil, fmt.Errorf("site states: %w", err)
	}
	return sites, nil
}

// SiteSummary is what the overview shows of one website besides its state.
type SiteSummary struct {
	// Window is the uptime and p95 over the window asked for (exact to the
	// hour, as Status reads it).
	Window WindowStatus
	// Days are the last days asked for, oldest first, today (so far)
	// included: checks and uptime, no percentiles.
	Days []DayStatus
}

// LastDays sums the last n of s.Days (today so far and the n-1 whole days
// before it): the uptime of a long window to the day, which the overview
// shows without reading another row.
func (s SiteSummary) LastDays(n int) WindowStatus {
	w := WindowStatus{Window: time.Duration(n) * day}
	var up int64
	for _, d := range s.Days[max(0, len(s.Days)-n):] {
		w.Checks += d.Checks
		up += d.UpChecks
	}
	if w.Checks > 0 {
		v := 100 * float64(up) / float64(w.Checks)
		w.UptimePct = &v
	}
	return w
}

// SiteSummaries returns, for each website of ids, its uptime and p95 over
// window (from the rollups, as Status reads them) and the daily uptime of
// its last days, in three queries whatever len(ids). A website without rows
// gets empty windows and days.
func (db *DB) SiteSummaries(ctx context.Context, ids []int64, window time.Duration, days int, now time.Time) (map[int64]SiteSummary, error) {
	out := make(map[int64]SiteSummary, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("site summaries: %w", err)
	}
	defer tx.Rollback()
	aggs, err := windowAggs(ctx, tx, ids, now.Add(-window), now, false, true, db.alerts.withDefaults().FailureThreshold)
	if err != nil {
		return nil, fmt.Errorf("site summaries: %w", err)
	}
	first := utcDay(now).Add(-time.Duration(days-1) * day)
	for _, id := range ids {
		s := SiteSummary{Days: make([]DayStatus, days), Window: aggs[id].window(window)}
		for i := range s.Days {
			s.Days[i].Day = first.Add(time.Duration(i) * day)
		}
		out[id] = s
	}
	if days <= 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT website_id, day, sum(checks)::bigint, sum(up_checks)::bigint FROM `+rollupDaysSQL+` d
		WHERE website_id = ANY($1::int[]) AND day >= $2::date
		GROUP BY 1, 2`, pq.Int64Array(ids), first.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("site summaries: read days: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, checks, up int64
		var at time.Time
		if err := rows.Scan(&id, &at, &checks, &up); err != nil {
			return nil, fmt.Errorf("site summaries: read days: %w", err)
		}
		i := int(time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC).Sub(first) / day)
		if s, ok := out[id]; ok && i >= 0 && i < days {
			s.Days[i].Checks, s.Days[i].UpChecks = checks, up
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("site summaries: read days: %w", err)
	}
	return out, nil
}

// HourStatus is one UTC hour of a website's history, all probes together.
type HourStatus struct {
	// Hour is the hour's start.
	Hour time.Time
	// Checks and UpChecks count its checks.
	Checks, UpChecks int64
	// P50Ms and P95Ms are percentiles of its response times (within 5%);
	// nil when it has none.
	P50Ms, P95Ms *float64
}

// SiteHours returns the hours of website id from the hour from falls in
// through now, oldest first, only those with checks.
func (db *DB) SiteHours(ctx context.Context, id int64, from, now time.Time) ([]HourStatus, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT hour, checks, up_checks, rt_hist FROM website_status_hourly
		WHERE website_id = $1 AND hour >= $2 AND hour <= $3
		ORDER BY hour`, id, from.UTC().Truncate(time.Hour), now)
	if err != nil {
		return nil, fmt.Errorf("site %d: read hours: %w", id, err)
	}
	defer rows.Close()
	var out []HourStatus
	var hist Histogram
	flush := func() {
		if len(out) == 0 {
			return
		}
		h := &out[len(out)-1]
		if v, ok := hist.Quantile(0.5); ok {
			h.P50Ms = &v
		}
		if v, ok := hist.Quantile(0.95); ok {
			h.P95Ms = &v
		}
	}
	var enc []int64
	for rows.Next() {
		var at time.Time
		var checks, up int64
		enc = enc[:0]
		if err := rows.Scan(&at, &checks, &up, pq.Array(&enc)); err != nil {
			return nil, fmt.Errorf("site %d: read hours: %w", id, err)
		}
		at = at.UTC()
		if len(out) == 0 || !out[len(out)-1].Hour.Equal(at) {
			flush()
			out = append(out, HourStatus{Hour: at})
			hist = Histogram{}
		}
		h := &out[len(out)-1]
		h.Checks += checks
		h.UpChecks += up
		hist.addEncoded(enc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("site %d: read hours: %w", id, err)
	}
	flush()
	return out, nil
}

// TLSInfo is what the latest https check of a website saw of its TLS.
type TLSInfo struct {
	// Version is the negotiated version, e.g. "TLS 1.3".
	Version string
	// CertNotAfter is when the leaf certificate expires.
	CertNotAfter *time.Time
	// CheckedAt is when that check was made.
	CheckedAt time.Time
}

// SiteTLS returns the TLS seen by the latest stored check of website id that
// recorded one still in raw history; nil when none did.
func (db *DB) SiteTLS(ctx context.Context, id int64) (*TLSInfo, error) {
	var t TLSInfo
	var notAfter sql.NullString
	err := db.db.QueryRowContext(ctx, `
		SELECT timestamp_utc, request_info->>'tls_version', request_info->>'cert_not_after'
		FROM website_status WHERE website_id = $1 AND request_info ? 'tls_version'
		ORDER BY timestamp_utc DESC LIMIT 1`, id).Scan(&t.CheckedAt, &t.Version, &notAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("site %d: read tls: %w", id, err)
	}
	if notAfter.Valid {
		if v, err := time.Parse(time.RFC3339Nano, notAfter.String); err == nil {
			v = v.UTC()
			t.CertNotAfter = &v
		}
	}
	t.CheckedAt = t.CheckedAt.UTC()
	return &t, nil
}

// Check is one stored check, as the checks API lists it.
type Check struct {
	CheckID        string
	CheckedAt      time.Time
	Probe, Host    string
	Up             bool
	Reason         contract.Reason
	StatusCode     *int
	ResponseTimeMs *float64
	Error          string
}

// Checks returns up to limit checks of website id made after since, oldest
// first, from raw history. The next page starts after the last one's
// CheckedAt (two checks in the same microsecond may then be split; rare).
func (db *DB) Checks(ctx context.Context, id int64, since time.Time, limit int) ([]Check, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT check_id, timestamp_utc, probe, host, up, reason, status_code, response_time_ms,
		       coalesce(request_info->>'error', '')
		FROM website_status WHERE website_id = $1 AND timestamp_utc > $2
		ORDER BY timestamp_utc LIMIT $3`, id, since, limit)
	if err != nil {
		return nil, fmt.Errorf("site %d: read checks: %w", id, err)
	}
	defer rows.Close()
	var out []Check
	for rows.Next() {
		var c Check
		var reason string
		var code sql.NullInt64
		var rt sql.NullFloat64
		if err := rows.Scan(&c.CheckID, &c.CheckedAt, &c.Probe, &c.Host, &c.Up, &reason, &code, &rt, &c.Error); err != nil {
			return nil, fmt.Errorf("site %d: read checks: %w", id, err)
		}
		c.CheckedAt, c.Reason = c.CheckedAt.UTC(), contract.Reason(reason)
		if code.Valid {
			v := int(code.Int64)
			c.StatusCode = &v
		}
		if rt.Valid {
			v := rt.Float64
			c.ResponseTimeMs = &v
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("site %d: read checks: %w", id, err)
	}
	return out, nil
}

// Incident is one row of incidents with its notifications.
type Incident struct {
	ID int64
	// WebsiteID is 0 for an incident of no website (probe_silent).
	WebsiteID int64
	// Kind is down, cert_expiry or probe_silent.
	Kind       string
	StartedAt  time.Time
	ResolvedAt *time.Time
	Reason     string
	Error      string
	Probes     []string
	// Notifications are its notifications, in the order enqueued.
	Notifications []NotificationStatus
}

// IncidentQuery filters Incidents.
type IncidentQuery struct {
	// WebsiteID, when not 0, keeps the incidents of that website.
	WebsiteID int64
	// Open keeps the open incidents only.
	Open bool
	// Kind, when set, keeps the incidents of that kind.
	Kind string
	// Limit caps the number returned; 0 means no limit.
	Limit int
	// Since, when not zero, keeps the incidents open at any time since it
	// (still open, or resolved since).
	Since time.Time
	// PublicOnly leaves out the incidents of private websites (those of no
	// website, probe_silent, stay).
	PublicOnly bool
}

// Incidents returns the incidents q selects, open ones first, then by start,
// newest first, with their notifications (two queries in all).
func (db *DB) Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error) {
	var limit, since any
	if q.Limit > 0 {
		limit = q.Limit
	}
	if !q.Since.IsZero() {
		since = q.Since
	}
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, coalesce(website_id, 0), kind, started_at, resolved_at, reason, error, probes
		FROM incidents
		WHERE ($1 = 0 OR website_id = $1) AND (NOT $2 OR resolved_at IS NULL) AND ($3 = '' OR kind = $3)
		  AND ($5::timestamptz IS NULL OR resolved_at IS NULL OR resolved_at >= $5::timestamptz)
		  AND (NOT $6 OR website_id IS NULL OR EXISTS (SELECT 1 FROM websites w WHERE w.id = website_id AND w.public))
		ORDER BY resolved_at IS NULL DESC, started_at DESC, id DESC
		LIMIT $4`, q.WebsiteID, q.Open, q.Kind, limit, since, q.PublicOnly)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	var ids []int64
	for rows.Next() {
		var in Incident
		var resolved sql.NullTime
		if err := rows.Scan(&in.ID, &in.WebsiteID, &in.Kind, &in.StartedAt, &resolved, &in.Reason, &in.Error, pq.Array(&in.Probes)); err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		in.StartedAt = in.StartedAt.UTC()
		if resolved.Valid {
			v := resolved.Time.UTC()
			in.ResolvedAt = &v
		}
		out = append(out, in)
		ids = append(ids, in.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	rows.Close()
	if len(ids) == 0 {
		return out, nil
	}
	notes, err := db.IncidentNotifications(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Notifications = notes[out[i].ID]
	}
	return out, nil
}

// SiteState returns the state of website id as of now (as SiteStates reads
// it); the error wraps ErrNotFound when there is no such website.
func (db *DB) SiteState(ctx context.Context, id int64, now time.Time) (SiteStatus, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return SiteStatus{}, fmt.Errorf("site %d: %w", id, err)
	}
	defer tx.Rollback()
	sites, err := readSites(ctx, tx, id, now, db.alerts)
	if err != nil {
		return SiteStatus{}, fmt.Errorf("site %d: %w", id, err)
	}
	if len(sites) == 0 {
		return SiteStatus{}, fmt.Errorf("site %d: %w", id, ErrNotFound)
	}
	return sites[0], nil
}
