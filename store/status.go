package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sitestat/sitestat/checker"
)

// LastCheck is the latest stored check of a website.
type LastCheck struct {
	// Up is whether the check succeeded.
	Up bool
	// Reason says why the check came out as it did.
	Reason checker.Reason
	// StatusCode is nil when no response arrived.
	StatusCode *int
	// ResponseTimeMs is nil when the row has none.
	ResponseTimeMs *float64
	// CheckedAt is when the check started, in UTC.
	CheckedAt time.Time
}

// SiteStatus is one website's state for `sitestat status`.
type SiteStatus struct {
	// ID is websites.id.
	ID int64
	// URL is the website's URL.
	URL string
	// Interval is the website's check interval.
	Interval time.Duration
	// Last is the latest check ever stored, nil when the site was never checked.
	Last *LastCheck
	// Checks is how many checks fall in the window.
	Checks int64
	// UptimePct is the percentage of the window's checks that were up; nil
	// when the window has none.
	UptimePct *float64
	// P95ResponseMs is the 95th percentile (interpolated) of the window's
	// response times, over every check whatever its outcome; nil when none.
	P95ResponseMs *float64
}

// Status returns the state of every website, by id: its last check, and
// over the window (now-window, now] the number of checks, the uptime and
// the 95th percentile response time. It reads only the typed columns, through
// the (website_id, timestamp_utc) covering index, one index range per site.
func (db *DB) Status(ctx context.Context, window time.Duration, now time.Time) ([]SiteStatus, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT w.id, w.url, w.check_interval,
		       l.up, l.reason, l.status_code, l.response_time_ms, l.timestamp_utc,
		       a.checks, a.up_checks, a.p95
		FROM websites w
		LEFT JOIN LATERAL (
			SELECT s.up, s.reason, s.status_code, s.response_time_ms, s.timestamp_utc
			FROM website_status s
			WHERE s.website_id = w.id
			ORDER BY s.timestamp_utc DESC
			LIMIT 1
		) l ON true
		CROSS JOIN LATERAL (
			SELECT count(*) AS checks,
			       count(*) FILTER (WHERE s.up) AS up_checks,
			       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.response_time_ms) AS p95
			FROM website_status s
			WHERE s.website_id = w.id AND s.timestamp_utc > $1 AND s.timestamp_utc <= $2
		) a
		ORDER BY w.id`, now.Add(-window), now)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	defer rows.Close()
	var out []SiteStatus
	for rows.Next() {
		var (
			s         SiteStatus
			interval  int64
			up        sql.NullBool
			reason    sql.NullString
			status    sql.NullInt64
			rt        sql.NullFloat64
			checkedAt sql.NullTime
			upChecks  int64
			p95       sql.NullFloat64
		)
		if err := rows.Scan(&s.ID, &s.URL, &interval, &up, &reason, &status, &rt, &checkedAt,
			&s.Checks, &upChecks, &p95); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		s.Interval = time.Duration(interval) * time.Second
		if checkedAt.Valid {
			last := &LastCheck{Up: up.Bool, Reason: checker.Reason(reason.String), CheckedAt: checkedAt.Time.UTC()}
			if status.Valid {
				code := int(status.Int64)
				last.StatusCode = &code
			}
			if rt.Valid {
				v := rt.Float64
				last.ResponseTimeMs = &v
			}
			s.Last = last
		}
		if s.Checks > 0 {
			pct := 100 * float64(upChecks) / float64(s.Checks)
			s.UptimePct = &pct
		}
		if p95.Valid {
			v := p95.Float64
			s.P95ResponseMs = &v
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return out, nil
}
