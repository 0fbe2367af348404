package store

// Probes and probe_silent incidents (issue 12): sync stores the heartbeats
// of the check processes (RecordHeartbeats) and, every few seconds, opens a
// probe_silent incident for each probe not heard from for the silence time
// (OpenSilentProbes). A heartbeat resolves its probe's incident.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
)

// Probe is one row of probes: a probe's latest heartbeat.
type Probe struct {
	// Name is the probe (SITESTAT_PROBE of its check processes).
	Name string
	// Host is the machine of the latest heartbeat.
	Host string
	// HeartbeatAt is the latest heartbeat's own time; ReceivedAt when sync
	// stored it.
	HeartbeatAt, ReceivedAt time.Time
	// Sites and Checks are what the latest heartbeat said.
	Sites  int
	Checks int64
	// Silent is the open probe_silent incident, 0 when none.
	Silent int64
}

// RecordHeartbeats stores the latest of hbs per probe in probes (an older
// heartbeat than the one stored changes nothing) and resolves the open
// probe_silent incidents of the probes heard from, enqueueing their
// recovered, in one transaction.
func (db *DB) RecordHeartbeats(ctx context.Context, hbs []contract.Heartbeat) error {
	latest := map[string]contract.Heartbeat{}
	for _, h := range hbs {
		if l, ok := latest[h.Probe]; !ok || h.At.After(l.At) {
			latest[h.Probe] = h
		}
	}
	if len(latest) == 0 {
		return nil
	}
	var names, hosts, ats []string
	var sites, checks []int64
	for name := range latest {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, n := range names {
		h := latest[n]
		hosts = append(hosts, h.Host)
		ats = append(ats, h.At.Format(time.RFC3339Nano))
		sites = append(sites, int64(h.Sites))
		checks = append(checks, int64(h.Checks))
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record heartbeats: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO probes AS p (name, host, heartbeat_at, received_at, sites, checks)
		SELECT name, host, at::timestamptz, now(), sites, checks
		FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[]) AS u(name, host, at, sites, checks)
		ON CONFLICT (name) DO UPDATE SET host = excluded.host, heartbeat_at = excluded.heartbeat_at,
			received_at = excluded.received_at, sites = excluded.sites, checks = excluded.checks
		WHERE excluded.heartbeat_at > p.heartbeat_at`,
		pq.Array(names), pq.Array(hosts), pq.Array(ats), pq.Array(sites), pq.Array(checks)); err != nil {
		return fmt.Errorf("record heartbeats: %w", err)
	}
	q, err := tx.QueryContext(ctx, `
		UPDATE incidents i SET resolved_at = greatest(now(), i.started_at)
		WHERE i.kind = 'probe_silent' AND i.resolved_at IS NULL AND i.probes[1] = ANY($1::text[])
		RETURNING i.id`, pq.Array(names))
	if err != nil {
		return fmt.Errorf("record heartbeats: resolve probe_silent: %w", err)
	}
	ids, err := scanIDs(q)
	if err != nil {
		return fmt.Errorf("record heartbeats: resolve probe_silent: %w", err)
	}
	for _, id := range ids {
		if _, err := EnqueueTx(ctx, tx, id, alert.EventRecovered, nil); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record heartbeats: commit: %w", err)
	}
	db.tally.add(incidentTally{resolved: int64(len(ids))})
	return nil
}

// OpenSilentProbes opens a probe_silent incident for each probe whose
// latest heartbeat was stored more than silence ago (by the database's
// clock) and has none open, enqueues their down, and returns their ids. Its
// caller makes sure sync is not behind on the heartbeats topic first.
func (db *DB) OpenSilentProbes(ctx context.Context, silence time.Duration) ([]int64, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("open probe_silent: %w", err)
	}
	defer tx.Rollback()
	q, err := tx.QueryContext(ctx, `
		INSERT INTO incidents (website_id, kind, started_at, reason, error, probes)
		SELECT NULL, 'probe_silent', p.received_at, 'probe_silent',
		       format('no heartbeat from probe %s (host %s) since %s', p.name, p.host,
		              to_char(p.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
		       ARRAY[p.name]
		FROM probes p
		WHERE p.received_at < now() - make_interval(secs => $1)
		ORDER BY p.name
		ON CONFLICT ((probes[1])) WHERE resolved_at IS NULL AND kind = 'probe_silent' DO NOTHING
		RETURNING id`, silence.Seconds())
	if err != nil {
		return nil, fmt.Errorf("open probe_silent: %w", err)
	}
	ids, err := scanIDs(q)
	if err != nil {
		return nil, fmt.Errorf("open probe_silent: %w", err)
	}
	for _, id := range ids {
		if _, err := EnqueueTx(ctx, tx, id, alert.EventDown, db.alerts.Channels); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("open probe_silent: commit: %w", err)
	}
	db.tally.add(incidentTally{opened: int64(len(ids))})
	return ids, nil
}

// Probes returns every probe, by name, with its open probe_silent incident.
func (db *DB) Probes(ctx context.Context) ([]Probe, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT p.name, p.host, p.heartbeat_at, p.received_at, p.sites, p.checks,
		       coalesce((SELECT i.id FROM incidents i WHERE i.kind = 'probe_silent' AND i.resolved_at IS NULL
		                 AND i.probes[1] = p.name), 0)
		FROM probes p ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("list probes: %w", err)
	}
	defer rows.Close()
	var out []Probe
	for rows.Next() {
		var p Probe
		if err := rows.Scan(&p.Name, &p.Host, &p.HeartbeatAt, &p.ReceivedAt, &p.Sites, &p.Checks, &p.Silent); err != nil {
			return nil, fmt.Errorf("list probes: %w", err)
		}
		p.HeartbeatAt, p.ReceivedAt = p.HeartbeatAt.UTC(), p.ReceivedAt.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list probes: %w", err)
	}
	return out, nil
}

// ForgetProbe retires a probe stopped on purpose: it deletes its row and
// resolves its open probe_silent incident (enqueueing the recovered, so a
// PagerDuty incident does not stay open). The error wraps ErrNotFound when
// there is no such probe. A heartbeat from it later brings it back.
func (db *DB) ForgetProbe(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("forget probe: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "DELETE FROM probes WHERE name = $1", name)
	if err != nil {
		return fmt.Errorf("forget probe: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("forget probe: %w", err)
	} else if n == 0 {
		return fmt.Errorf("forget probe: probe %q: %w", name, ErrNotFound)
	}
	var id sql.NullInt64
	err = tx.QueryRowContext(ctx, `
		UPDATE incidents SET resolved_at = greatest(now(), started_at)
		WHERE kind = 'probe_silent' AND resolved_at IS NULL AND probes[1] = $1
		RETURNING id`, name).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("forget probe: %w", err)
	}
	if id.Valid {
		if _, err := EnqueueTx(ctx, tx, id.Int64, alert.EventRecovered, nil); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("forget probe: commit: %w", err)
	}
	if id.Valid {
		db.tally.add(incidentTally{resolved: 1})
	}
	return nil
}
