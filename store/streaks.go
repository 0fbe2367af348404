package store

// Streaks, down and cert_expiry incidents (issue 12), computed by InsertResults in the
// transaction that stores the rows, set-based per batch: one read of the
// batch's websites, one locking read of their site_probe_state rows, one
// upsert of the states, and one statement each for the incidents opened and
// resolved. Only the rows the batch inserted take part (a redelivered check
// is never counted twice), in checked_at order per website and probe; a row
// not later than the state's latest check (a late result) is stored but does
// not move the streak.

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/alert"
)

// AlertOptions are sync's alerting settings, as plain values. The zero value
// takes the defaults and enqueues no notification.
type AlertOptions struct {
	// FailureThreshold is how many consecutive failed checks make a probe
	// failing when the website has no alert_after of its own; 0 means 3.
	FailureThreshold int
	// SuccessThreshold is how many consecutive passed checks make a failing
	// probe pass again when the website has no recover_after; 0 means 2.
	SuccessThreshold int
	// Quorum is how many failing probes make a website down, at most the
	// number of probes heard from recently; 0 means 1.
	Quorum int
	// Channels are the channels a "down" is enqueued for (the configured
	// ones); a "recovered" goes to the channels that got the down.
	Channels []alert.Channel
	// CertDays opens a cert_expiry incident when an https check's
	// certificate expires within this many days of the check; 0 means 14,
	// a negative value turns certificate incidents off.
	CertDays int
}

func (o AlertOptions) withDefaults() AlertOptions {
	if o.FailureThreshold <= 0 {
		o.FailureThreshold = 3
	}
	if o.SuccessThreshold <= 0 {
		o.SuccessThreshold = 2
	}
	if o.Quorum <= 0 {
		o.Quorum = 1
	}
	if o.CertDays == 0 {
		o.CertDays = 14
	}
	return o
}

// recentProbes is the shortest time within which a probe's latest check
// must fall, before a website's latest check, for the probe to count as
// heard from recently: the longer of this and three check intervals (the
// rule `status` uses to call a probe stale).
const recentProbes = time.Minute

// probeKey identifies one row of site_probe_state.
type probeKey struct {
	id    int64
	probe string
}

// probeState is one row of site_probe_state as the batch leaves it.
type probeState struct {
	exists      bool // read from the table
	changed     bool // moved by the batch
	latest      storedRow
	failStreak  int
	okStreak    int
	failing     bool
	firstFailAt sql.NullTime
}

// siteAlert is what the incident logic needs of one website.
type siteAlert struct {
	alertAfter   int
	recoverAfter int
	interval     time.Duration
	openDown     sql.NullInt64 // the open down incident
	openCert     sql.NullInt64 // the open cert_expiry incident
	maintenance  []window      // the maintenance windows covering the batch
}

// window is a maintenance window: [from, until).
type window struct{ from, until time.Time }

// inMaintenance reports whether a check at at falls in a maintenance window.
func (s *siteAlert) inMaintenance(at time.Time) bool {
	for _, w := range s.maintenance {
		if !at.Before(w.from) && at.Before(w.until) {
			return true
		}
	}
	return false
}

// applyState moves site_probe_state forward with rows (each inserted by
// this transaction), streaks included, then opens and resolves the down
// incidents the new states call for and enqueues their notifications.
func applyState(ctx context.Context, tx *sql.Tx, rows []storedRow, opts AlertOptions, t *incidentTally) error {
	opts = opts.withDefaults()
	seen := map[int64]bool{}
	var ids []int64
	for i := range rows {
		if !seen[rows[i].websiteID] {
			seen[rows[i].websiteID] = true
			ids = append(ids, rows[i].websiteID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Lock first: a concurrent batch of the same websites (a rebalance)
	// waits here, and then reads the incidents this one committed.
	states, err := lockStates(ctx, tx, ids)
	if err != nil {
		return err
	}
	lo, hi := rows[0].at, rows[0].at
	for i := range rows {
		lo, hi = minTime(lo, rows[i].at), maxTime(hi, rows[i].at)
	}
	for _, st := range states { // the windows its streaks' first failures fall in too
		if st.firstFailAt.Valid {
			lo = minTime(lo, st.firstFailAt.Time)
		}
	}
	sites, err := readSiteAlerts(ctx, tx, ids, lo, hi, opts)
	if err != nil {
		return err
	}
	sorted := make([]*storedRow, len(rows))
	for i := range rows {
		sorted[i] = &rows[i]
	}
	// Per website, in (checked_at, check_id) order across its probes: the
	// verdict is taken after every check, so an outage that opens and
	// resolves within one batch is seen as it would be one check at a time.
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.websiteID != b.websiteID {
			return a.websiteID < b.websiteID
		}
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.probe != b.probe {
			return a.probe < b.probe
		}
		return a.checkID < b.checkID
	})
	bySite := map[int64][]*probeState{}
	for k, st := range states {
		bySite[k.id] = append(bySite[k.id], st)
	}
	var changes []incidentChange
	for i := 0; i < len(sorted); {
		id := sorted[i].websiteID
		j := i
		for j < len(sorted) && sorted[j].websiteID == id {
			j++
		}
		site := sites[id]
		open := site.openDown.Valid
		cur := -1           // the index in changes of the incident opened by this batch and still open
		var cert *storedRow // the latest check with a certificate
		for _, r := range sorted[i:j] {
			k := probeKey{r.websiteID, r.probe}
			st := states[k]
			if st == nil {
				st = &probeState{}
				states[k] = st
				bySite[id] = append(bySite[id], st)
			}
			if (st.exists || st.changed) && !after(r, &st.latest) {
				continue // late: stored and counted, but the state stays
			}
			st.advance(r, site)
			if !r.certUntil.IsZero() {
				cert = r
			}
			v := verdict(site, bySite[id], opts.Quorum)
			switch {
			case v.down && !open && v.started.Valid && !site.inMaintenance(r.at):
				open = true
				changes = append(changes, incidentChange{websiteID: id, kind: alert.KindDown, started: v.started.Time,
					reason: v.reason, errText: v.errText, probes: v.probes})
				cur = len(changes) - 1
			case !v.down && open:
				open = false
				if cur >= 0 {
					changes[cur].resolved = sql.NullTime{Time: r.at, Valid: true}
					cur = -1
				} else {
					changes = append(changes, incidentChange{websiteID: id, kind: alert.KindDown,
						existing: site.openDown.Int64, resolved: sql.NullTime{Time: r.at, Valid: true}})
				}
			}
		}
		if c, ok := certChange(site, cert, opts.CertDays); ok {
			changes = append(changes, c)
		}
		i = j
	}
	if err := upsertState(ctx, tx, states); err != nil {
		return err
	}
	return applyIncidentChanges(ctx, tx, changes, opts.Channels, t)
}

// certChange returns the cert_expiry incident to open or resolve after the
// website's latest check with a certificate: open when it expires within
// days of the check, resolved when a later check sees one that does not
// (renewed).
func certChange(site *siteAlert, r *storedRow, days int) (incidentChange, bool) {
	if r == nil || days < 0 {
		return incidentChange{}, false
	}
	expiring := r.certUntil.Sub(r.at) <= time.Duration(days)*24*time.Hour
	switch {
	case expiring && !site.openCert.Valid && !site.inMaintenance(r.at):
		left := r.certUntil.Sub(r.at)
		msg := fmt.Sprintf("certificate expires at %s (in %.1f days)", r.certUntil.Format(time.RFC3339), left.Hours()/24)
		if left <= 0 {
			msg = fmt.Sprintf("certificate expired at %s", r.certUntil.Format(time.RFC3339))
		}
		return incidentChange{websiteID: r.websiteID, kind: alert.KindCertExpiry, started: r.at,
			reason: alert.KindCertExpiry, errText: msg, probes: []string{r.probe}}, true
	case !expiring && site.openCert.Valid:
		return incidentChange{websiteID: r.websiteID, kind: alert.KindCertExpiry, existing: site.openCert.Int64,
			resolved: sql.NullTime{Time: r.at, Valid: true}}, true
	}
	return incidentChange{}, false
}

// incidentChange is an incident the batch opens (existing 0), resolves,
// or both.
type incidentChange struct {
	websiteID int64
	kind      string
	existing  int64 // the open incident resolved, 0 for a new one
	started   time.Time
	resolved  sql.NullTime
	reason    string
	errText   string
	probes    []string
}

// after reports whether r comes after the check l, in (checked_at, check_id)
// order, the order site_probe_state moves in.
func after(r, l *storedRow) bool {
	if !r.at.Equal(l.at) {
		return r.at.After(l.at)
	}
	return r.checkID > l.checkID
}

// advance applies the check r of website site to the streak. Every failure
// counts towards the failure threshold, but firstFailAt is the first failure
// of the streak outside the site's maintenance windows (one inside a window,
// recorded by an older release or before the window was added, is replaced),
// so that an incident never starts inside a window.
func (st *probeState) advance(r *storedRow, site *siteAlert) {
	st.latest, st.changed = *r, true
	if r.up {
		st.okStreak++
		st.failStreak = 0
		st.firstFailAt = sql.NullTime{}
		if st.failing && st.okStreak >= site.recoverAfter {
			st.failing = false
		}
	} else {
		st.failStreak++
		st.okStreak = 0
		if !site.inMaintenance(r.at) && (!st.firstFailAt.Valid || site.inMaintenance(st.firstFailAt.Time)) {
			st.firstFailAt = sql.NullTime{Time: r.at, Valid: true}
		}
		if site.alertAfter > 0 && st.failStreak >= site.alertAfter {
			st.failing = true
		}
	}
	if site.alertAfter == 0 {
		st.failing = false // alerting off for the site
	}
}

// readSiteAlerts reads the thresholds, interval, open down and cert_expiry
// incidents and the maintenance windows overlapping [lo, hi] of the
// websites ids: three reads of sets (websites by key, open incidents by
// their partial index, the few windows), not one lookup per website.
func readSiteAlerts(ctx context.Context, tx *sql.Tx, ids []int64, lo, hi time.Time, opts AlertOptions) (map[int64]*siteAlert, error) {
	q, err := tx.QueryContext(ctx, `
		SELECT id, coalesce(alert_after, $2), coalesce(recover_after, $3), check_interval
		FROM websites WHERE id = ANY($1::integer[])`,
		pq.Array(ids), opts.FailureThreshold, opts.SuccessThreshold)
	if err != nil {
		return nil, fmt.Errorf("read alert settings: %w", err)
	}
	defer q.Close()
	sites := make(map[int64]*siteAlert, len(ids))
	for q.Next() {
		var id int64
		var interval int
		s := &siteAlert{}
		if err := q.Scan(&id, &s.alertAfter, &s.recoverAfter, &interval); err != nil {
			return nil, fmt.Errorf("read alert settings: %w", err)
		}
		if s.recoverAfter < 1 {
			s.recoverAfter = 1
		}
		s.interval = time.Duration(interval) * time.Second
		sites[id] = s
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("read alert settings: %w", err)
	}
	for _, id := range ids {
		if sites[id] == nil { // removed meanwhile: the rows' foreign key fails the batch anyway
			sites[id] = &siteAlert{alertAfter: opts.FailureThreshold, recoverAfter: opts.SuccessThreshold}
		}
	}

	q, err = tx.QueryContext(ctx, `
		SELECT website_id, kind, id FROM incidents
		WHERE resolved_at IS NULL AND website_id = ANY($1::integer[]) AND kind IN ('down', 'cert_expiry')`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read open incidents: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var id, incident int64
		var kind string
		if err := q.Scan(&id, &kind, &incident); err != nil {
			return nil, fmt.Errorf("read open incidents: %w", err)
		}
		if kind == alert.KindDown {
			sites[id].openDown = sql.NullInt64{Int64: incident, Valid: true}
		} else {
			sites[id].openCert = sql.NullInt64{Int64: incident, Valid: true}
		}
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("read open incidents: %w", err)
	}

	q, err = tx.QueryContext(ctx, `
		SELECT coalesce(website_id, 0), starts_at, ends_at FROM maintenance_windows
		WHERE ends_at > $1 AND starts_at <= $2 AND (website_id IS NULL OR website_id = ANY($3::integer[]))
		ORDER BY id`, lo, hi, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var id int64
		var w window
		if err := q.Scan(&id, &w.from, &w.until); err != nil {
			return nil, fmt.Errorf("read maintenance windows: %w", err)
		}
		if id != 0 {
			sites[id].maintenance = append(sites[id].maintenance, w)
			continue
		}
		for _, s := range sites { // a window for every website
			s.maintenance = append(s.maintenance, w)
		}
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	return sites, nil
}

// lockStates reads, locking them in key order, the site_probe_state rows of
// every probe of the websites ids (the probes outside the batch count in the
// quorum).
func lockStates(ctx context.Context, tx *sql.Tx, ids []int64) (map[probeKey]*probeState, error) {
	q, err := tx.QueryContext(ctx, `
		SELECT website_id, probe, checked_at, check_id, up, reason, status_code, response_time_ms, error, host,
		       fail_streak, ok_streak, failing, first_fail_at
		FROM site_probe_state WHERE website_id = ANY($1::integer[])
		ORDER BY website_id, probe FOR UPDATE`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read site_probe_state: %w", err)
	}
	defer q.Close()
	states := map[probeKey]*probeState{}
	for q.Next() {
		st := &probeState{exists: true}
		r := &st.latest
		if err := q.Scan(&r.websiteID, &r.probe, &r.at, &r.checkID, &r.up, &r.reason, &r.statusCode, &r.rtMs,
			&r.errText, &r.host, &st.failStreak, &st.okStreak, &st.failing, &st.firstFailAt); err != nil {
			return nil, fmt.Errorf("read site_probe_state: %w", err)
		}
		r.at = r.at.UTC()
		states[probeKey{r.websiteID, r.probe}] = st
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("read site_probe_state: %w", err)
	}
	return states, nil
}

// siteVerdict is whether a website is down by its probes' states.
type siteVerdict struct {
	down bool
	// started is the earliest first failure outside maintenance windows of
	// the failing probes; not valid while every failure of theirs fell in
	// one (a down incident waits for a failure outside).
	started sql.NullTime
	reason  string
	errText string
	probes  []string  // the failing probes, sorted
	latest  time.Time // the latest check of any probe
}

// verdict applies the quorum to the probes of one website: down when at
// least min(quorum, probes heard from recently) probes are failing.
func verdict(site *siteAlert, probes []*probeState, quorum int) siteVerdict {
	var v siteVerdict
	for _, st := range probes {
		if st.latest.at.After(v.latest) {
			v.latest = st.latest.at
		}
	}
	window := max(recentProbes, 3*site.interval)
	recent, failing := 0, 0
	var first *probeState
	for _, st := range probes {
		if st.latest.at.Before(v.latest.Add(-window)) {
			continue
		}
		recent++
		if !st.failing {
			continue
		}
		failing++
		v.probes = append(v.probes, st.latest.probe)
		if first == nil || earlierStart(site, st, first) {
			first = st
		}
	}
	need := min(quorum, recent)
	v.down = need >= 1 && failing >= need
	if v.down {
		sort.Strings(v.probes)
		if startKnown(site, first) {
			v.started = first.firstFailAt
		}
		v.reason, v.errText = first.latest.reason, first.latest.errText
	}
	return v
}

// startKnown reports whether st's streak has a first failure outside the
// site's maintenance windows.
func startKnown(site *siteAlert, st *probeState) bool {
	return st.firstFailAt.Valid && !site.inMaintenance(st.firstFailAt.Time)
}

// earlierStart reports whether a's streak started (outside maintenance)
// before b's; a streak with no such start comes last.
func earlierStart(site *siteAlert, a, b *probeState) bool {
	switch ka, kb := startKnown(site, a), startKnown(site, b); {
	case ka != kb:
		return ka
	case !ka:
		return false
	}
	return a.firstFailAt.Time.Before(b.firstFailAt.Time)
}

// applyIncidentChanges writes the batch's incident changes in tx: the
// incidents opened (resolved too when the outage ended within the batch),
// then the open ones resolved, and enqueues a down for each incident opened
// and a recovered for each resolved, in that order.
func applyIncidentChanges(ctx context.Context, tx *sql.Tx, changes []incidentChange, channels []alert.Channel, t *incidentTally) error {
	var (
		siteIDs, kinds, started, resolved, reasons, errs, probes []string
		resolveIDs                                               []int64
		resolveAt                                                []string
	)
	for _, c := range changes {
		if c.existing != 0 {
			resolveIDs = append(resolveIDs, c.existing)
			resolveAt = append(resolveAt, c.resolved.Time.Format(time.RFC3339Nano))
			continue
		}
		p, err := pq.Array(c.probes).Value()
		if err != nil {
			return fmt.Errorf("open incidents: %w", err)
		}
		at := ""
		if c.resolved.Valid {
			at = c.resolved.Time.Format(time.RFC3339Nano)
		}
		siteIDs = append(siteIDs, fmt.Sprint(c.websiteID))
		kinds = append(kinds, c.kind)
		started = append(started, c.started.Format(time.RFC3339Nano))
		resolved = append(resolved, at)
		reasons = append(reasons, c.reason)
		errs = append(errs, c.errText)
		probes = append(probes, p.(string))
	}
	type event struct {
		id    int64
		event alert.Event
	}
	var events []event
	if len(resolveIDs) > 0 {
		q, err := tx.QueryContext(ctx, `
			UPDATE incidents i SET resolved_at = greatest(u.at::timestamptz, i.started_at)
			FROM unnest($1::bigint[], $2::text[]) AS u(id, at)
			WHERE i.id = u.id AND i.resolved_at IS NULL
			RETURNING i.id`, pq.Array(resolveIDs), pq.Array(resolveAt))
		if err != nil {
			return fmt.Errorf("resolve incidents: %w", err)
		}
		ids, err := scanIDs(q)
		if err != nil {
			return fmt.Errorf("resolve incidents: %w", err)
		}
		for _, id := range ids {
			events = append(events, event{id, alert.EventRecovered})
		}
	}
	if len(siteIDs) > 0 {
		q, err := tx.QueryContext(ctx, `
			INSERT INTO incidents (website_id, kind, started_at, resolved_at, reason, error, probes)
			SELECT id::integer, kind, started::timestamptz, nullif(resolved, '')::timestamptz, reason, err, probes::text[]
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
			     WITH ORDINALITY AS u(id, kind, started, resolved, reason, err, probes, n)
			ORDER BY n
			ON CONFLICT (website_id, kind) WHERE resolved_at IS NULL AND website_id IS NOT NULL DO NOTHING
			RETURNING id, resolved_at IS NOT NULL`, pq.Array(siteIDs), pq.Array(kinds), pq.Array(started),
			pq.Array(resolved), pq.Array(reasons), pq.Array(errs), pq.Array(probes))
		if err != nil {
			return fmt.Errorf("open incidents: %w", err)
		}
		defer q.Close()
		for q.Next() {
			var id int64
			var done bool
			if err := q.Scan(&id, &done); err != nil {
				return fmt.Errorf("open incidents: %w", err)
			}
			events = append(events, event{id, alert.EventDown})
			if done {
				events = append(events, event{id, alert.EventRecovered})
			}
		}
		if err := q.Err(); err != nil {
			return fmt.Errorf("open incidents: %w", err)
		}
		q.Close()
	}
	for _, e := range events {
		if e.event == alert.EventDown {
			t.opened++
		} else {
			t.resolved++
		}
		chs := channels
		if e.event == alert.EventRecovered {
			chs = nil // EnqueueTx sends it to the channels of the down
		}
		if _, err := EnqueueTx(ctx, tx, e.id, e.event, chs); err != nil {
			return err
		}
	}
	return nil
}

// scanIDs reads a column of ids and closes q.
func scanIDs(q *sql.Rows) ([]int64, error) {
	defer q.Close()
	var out []int64
	for q.Next() {
		var id int64
		if err := q.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, q.Err()
}

// maintenanceNowSQL is true when website w is in a maintenance window at $3.
const maintenanceNowSQL = `EXISTS (SELECT 1 FROM maintenance_windows m
		WHERE (m.website_id = w.id OR m.website_id IS NULL) AND m.starts_at <= $3 AND m.ends_at > $3)`

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// incidentTally counts the incidents a transaction opened and resolved.
type incidentTally struct{ opened, resolved int64 }

// incidentCounters count, since Open, the incidents this DB's committed
// transactions opened and resolved.
type incidentCounters struct{ opened, resolved atomic.Int64 }

func (c *incidentCounters) add(t incidentTally) {
	c.opened.Add(t.opened)
	c.resolved.Add(t.resolved)
}

// IncidentStats are the incidents opened and resolved through this DB since
// it was opened (by InsertResults, OpenSilentProbes, RecordHeartbeats and
// ForgetProbe), for the metrics.
type IncidentStats struct{ Opened, Resolved int64 }

// IncidentStats returns the counts so far.
func (db *DB) IncidentStats() IncidentStats {
	return IncidentStats{Opened: db.tally.opened.Load(), Resolved: db.tally.resolved.Load()}
}
