package store

// The notification outbox (issue 12): notifications are written in the same
// transaction as the incident change that causes them (EnqueueTx), then
// claimed, delivered and marked by the notification loop (package notify).
//
// The rule for recoveries: a "recovered" goes only to the channels that got,
// or are still to get, the incident's "down", and always to those. It is
// applied twice:
//   - at enqueue time, EnqueueTx sends a recovered to the channels that have a
//     down row for the incident that has not failed, whatever channels are
//     configured now;
//   - at delivery time, ClaimNotifications holds a recovered back while the
//     down of its incident and channel is undelivered (a PagerDuty resolve
//     never overtakes its trigger), and RetryNotification fails the pending
//     recovered of a down it gives up on (that channel never got the down).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/sitestat/sitestat/alert"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/internal/redact"
	"github.com/sitestat/sitestat/internal/text"
)

// EnqueueTx writes, in the caller's transaction tx, the notifications of
// event for incident incidentID, and returns their ids. It is the one
// function that takes a transaction from outside: the exported store method
// that opens or resolves an incident calls it in its own transaction, after
// writing the incident row, so the incident change and its notifications
// commit together or not at all.
//
// The payload (an alert.Message) is a snapshot of the incident row and its
// website's URL as tx sees them. For alert.EventDown the notifications go to
// channels (the channels configured now). For alert.EventRecovered channels is
// ignored: they go to the channels with a down notification of the incident
// that has not failed. Enqueueing the same incident, event and channel again
// adds nothing (a redelivered change cannot notify twice). alert.EventTest is
// refused: tests are sent directly, never stored. EnqueueTx knows nothing of
// maintenance windows: the caller decides whether a down is notified, and
// must always enqueue the recovered of an incident whose down it enqueued.
func EnqueueTx(ctx context.Context, tx *sql.Tx, incidentID int64, event alert.Event, channels []alert.Channel) ([]int64, error) {
	switch event {
	case alert.EventDown, alert.EventRecovered:
	default:
		return nil, fmt.Errorf("enqueue notifications: event %q cannot be enqueued", event)
	}
	msg, err := incidentMessage(ctx, tx, incidentID, event)
	if err != nil {
		return nil, fmt.Errorf("enqueue notifications: %w", err)
	}
	if event == alert.EventRecovered {
		channels, err = downChannels(ctx, tx, incidentID)
		if err != nil {
			return nil, fmt.Errorf("enqueue notifications: %w", err)
		}
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("enqueue notifications: encode payload: %w", err)
	}
	var ids []int64
	for _, ch := range channels {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO notifications (incident_id, event, channel, payload)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id, event, channel) DO NOTHING
			RETURNING id`, incidentID, string(event), string(ch), payload).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue // enqueued already
		}
		if err != nil {
			return nil, fmt.Errorf("enqueue notifications: insert %s for incident %d: %w", ch, incidentID, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Enqueue is EnqueueTx in a transaction of its own.
func (db *DB) Enqueue(ctx context.Context, incidentID int64, event alert.Event, channels []alert.Channel) ([]int64, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("enqueue notifications: %w", err)
	}
	defer tx.Rollback()
	ids, err := EnqueueTx(ctx, tx, incidentID, event, channels)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enqueue notifications: commit: %w", err)
	}
	return ids, nil
}

// incidentMessage reads incident id and builds the message of event.
func incidentMessage(ctx context.Context, q querier, id int64, event alert.Event) (alert.Message, error) {
	m := alert.Message{V: alert.Version, Event: event, IncidentID: id}
	var site sql.NullInt64
	var resolved sql.NullTime
	var now time.Time
	err := q.QueryRowContext(ctx, `
		SELECT i.kind, i.website_id, coalesce(w.url, ''), i.reason, i.error,
		       i.started_at, i.resolved_at, i.probes, now()
		FROM incidents i LEFT JOIN websites w ON w.id = i.website_id
		WHERE i.id = $1`, id).Scan(&m.Kind, &site, &m.URL, &m.Reason, &m.Error,
		&m.StartedAt, &resolved, pq.Array(&m.Probes), &now)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("read incident %d: %w", id, err)
	}
	if site.Valid {
		m.WebsiteID = &site.Int64
	}
	if m.Probes == nil {
		m.Probes = []string{}
	}
	redactMessage(&m)
	m.StartedAt = m.StartedAt.UTC()
	end := now
	if resolved.Valid {
		r := resolved.Time.UTC()
		m.ResolvedAt, end = &r, r
	}
	m.DurationSeconds = max(0, end.Sub(m.StartedAt).Seconds())
	return m, nil
}

// redactMessage makes m fit to leave the building: its URL, and the URLs in
// its error text, through redact.URL (no user info), the error text cut
// to contract.MaxErrorLen. Escaping for a channel's markup is the channel's
// job (package notify).
func redactMessage(m *alert.Message) {
	m.URL = redact.URL(m.URL, redact.KeepQuery)
	m.Error = text.Truncate(redact.Text(m.Error, redact.KeepQuery), contract.MaxErrorLen)
}

// downChannels lists the channels of the incident's down notifications that
// have not failed.
func downChannels(ctx context.Context, q querier, incidentID int64) ([]alert.Channel, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT channel FROM notifications
		WHERE incident_id = $1 AND event = 'down' AND failed_at IS NULL
		ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("read channels of incident %d: %w", incidentID, err)
	}
	defer rows.Close()
	var out []alert.Channel
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("read channels of incident %d: %w", incidentID, err)
		}
		out = append(out, alert.Channel(ch))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read channels of incident %d: %w", incidentID, err)
	}
	return out, nil
}

// ClaimNotifications takes up to limit due notifications for delivery and
// returns them, oldest due first. In one short statement it locks the due
// rows with FOR UPDATE SKIP LOCKED, counts the attempt and moves their
// next_attempt_at lease ahead, so no other loop (in this process or another
// sync) claims them until the lease ends: several loops never deliver one
// notification concurrently, provided a delivery ends within the lease. One
// that is neither marked delivered nor rescheduled by then (its process died)
// is due again: delivery is at least once. A recovered is not due while the
// down of its incident and channel is undelivered.
//
// A claimed row whose payload does not decode (an alert.Message) is not
// returned: in the same transaction it is marked failed with the reason (as
// a down given up on is, its pending recovered with it) and counted in
// UnreadableNotifications, so it neither fails the claim nor delays the rows
// claimed with it.
func (db *DB) ClaimNotifications(ctx context.Context, limit int, lease time.Duration) ([]alert.Notification, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `
		WITH due AS MATERIALIZED (
			SELECT p.id FROM notifications p
			WHERE p.delivered_at IS NULL AND p.failed_at IS NULL AND p.next_attempt_at <= now()
			  AND NOT (p.event = 'recovered' AND EXISTS (
				SELECT 1 FROM notifications d
				WHERE d.incident_id = p.incident_id AND d.channel = p.channel
				  AND d.event = 'down' AND d.delivered_at IS NULL))
			ORDER BY p.next_attempt_at, p.id
			LIMIT $1
			FOR UPDATE SKIP LOCKED)
		UPDATE notifications n
		SET attempts = n.attempts + 1,
		    next_attempt_at = now() + make_interval(secs => $2)
		FROM due WHERE n.id = due.id
		RETURNING n.id, coalesce(n.incident_id, 0), n.event, n.channel, n.payload, n.created_at, n.attempts`,
		limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	defer rows.Close()
	var out, bad []alert.Notification
	var reasons []string
	for rows.Next() {
		var n alert.Notification
		var event, channel string
		var payload []byte
		if err := rows.Scan(&n.ID, &n.IncidentID, &event, &channel, &payload, &n.CreatedAt, &n.Attempt); err != nil {
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
		n.Event, n.Channel = alert.Event(event), alert.Channel(channel)
		if err := json.Unmarshal(payload, &n.Message); err != nil {
			bad, reasons = append(bad, n), append(reasons, unreadableReason(err))
			continue
		}
		redactMessage(&n.Message) // a payload an earlier release enqueued
		n.Message.NotificationID = n.ID
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	rows.Close()
	for i, n := range bad {
		if err := failTx(ctx, tx, n, reasons[i]); err != nil {
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim notifications: commit: %w", err)
	}
	db.unreadable.Add(int64(len(bad)))
	return out, nil
}

// unreadableReason is the last_error of a notification whose payload does
// not decode: what is wrong, never the payload's text (which holds URLs).
func unreadableReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("unreadable payload: not valid JSON (at byte %d); not sent", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("unreadable payload: field %q is not of type %s; not sent", typ.Field, typ.Type)
	case errors.As(err, &typ):
		return fmt.Sprintf("unreadable payload: a JSON %s is not an alert message; not sent", typ.Value)
	}
	return "unreadable payload: a field's value cannot be decoded; not sent"
}

// failTx marks claimed notification n failed with reason; a failed down
// fails its pending recovered too, which could no longer be sent in order.
func failTx(ctx context.Context, tx *sql.Tx, n alert.Notification, reason string) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE notifications SET failed_at = now(), last_error = $3
		WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL AND failed_at IS NULL`,
		n.ID, n.Attempt, reason); err != nil {
		return fmt.Errorf("fail notification %d: %w", n.ID, err)
	}
	if n.Event != alert.EventDown || n.IncidentID == 0 {
		return nil
	}
	return failRecoveredTx(ctx, tx, n.IncidentID, string(n.Channel))
}

// failRecoveredTx fails the pending recovered of incident's down on channel.
func failRecoveredTx(ctx context.Context, tx *sql.Tx, incident int64, channel string) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE notifications
		SET failed_at = now(), last_error = 'not sent: the down notification of this incident failed'
		WHERE incident_id = $1 AND channel = $2 AND event = 'recovered'
		  AND delivered_at IS NULL AND failed_at IS NULL`, incident, channel); err != nil {
		return fmt.Errorf("fail the recovery of incident %d: %w", incident, err)
	}
	return nil
}

// UnreadableNotifications counts the notifications this DB's claims marked
// failed because their payload did not decode, since Open.
func (db *DB) UnreadableNotifications() int64 {
	return db.unreadable.Load()
}

// MarkDelivered records that attempt of notification id was delivered. It
// reports false, changing nothing, when that attempt is no longer the current
// one (its lease ended and another claim took it) or the notification is
// delivered or failed already.
func (db *DB) MarkDelivered(ctx context.Context, id int64, attempt int) (bool, error) {
	res, err := db.db.ExecContext(ctx, `
		UPDATE notifications SET delivered_at = now()
		WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL AND failed_at IS NULL`, id, attempt)
	if err != nil {
		return false, fmt.Errorf("mark notification %d delivered: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark notification %d delivered: %w", id, err)
	}
	return n == 1, nil
}

// RetryNotification records that attempt of notification id failed with
// errText (which must hold no secret). While giveUp has not passed since the
// notification was enqueued it is due again after delay, but never later
// than that give-up time, so the last attempt is made at it; a failure at or
// after it marks the notification failed, and reports failed true. Failing a
// down also fails the pending recovered of its incident and channel, which
// could no longer be sent in order. A stale attempt changes nothing.
func (db *DB) RetryNotification(ctx context.Context, id int64, attempt int, delay, giveUp time.Duration, errText string) (failed bool, err error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("retry notification %d: %w", id, err)
	}
	defer tx.Rollback()
	var incident sql.NullInt64
	var event, channel string
	err = tx.QueryRowContext(ctx, `
		UPDATE notifications
		SET last_error = $3,
		    failed_at = CASE WHEN now() >= created_at + make_interval(secs => $4) THEN now() END,
		    next_attempt_at = least(now() + make_interval(secs => $5), created_at + make_interval(secs => $4))
		WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL AND failed_at IS NULL
		RETURNING failed_at IS NOT NULL, incident_id, event, channel`,
		id, attempt, errText, giveUp.Seconds(), delay.Seconds()).Scan(&failed, &incident, &event, &channel)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // stale attempt
	}
	if err != nil {
		return false, fmt.Errorf("retry notification %d: %w", id, err)
	}
	if failed && event == string(alert.EventDown) && incident.Valid {
		if err := failRecoveredTx(ctx, tx, incident.Int64, channel); err != nil {
			return false, fmt.Errorf("retry notification %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("retry notification %d: commit: %w", id, err)
	}
	return failed, nil
}

// NotificationStatus is one notification as `sitestat incidents` shows it.
type NotificationStatus struct {
	ID         int64
	IncidentID int64
	Event      alert.Event
	Channel    alert.Channel
	// Attempts counts the claims so far.
	Attempts  int
	CreatedAt time.Time
	// DeliveredAt and FailedAt are nil while the notification is pending.
	DeliveredAt, FailedAt *time.Time
	// LastError is the last failure, "" when none.
	LastError string
}

// State is "delivered", "failed" or "pending".
func (n NotificationStatus) State() string {
	switch {
	case n.DeliveredAt != nil:
		return "delivered"
	case n.FailedAt != nil:
		return "failed"
	}
	return "pending"
}

// IncidentNotifications returns the notifications of the incidents ids, by
// incident id, each incident's in the order they were enqueued.
func (db *DB) IncidentNotifications(ctx context.Context, ids []int64) (map[int64][]NotificationStatus, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, incident_id, event, channel, attempts, created_at, delivered_at, failed_at, coalesce(last_error, '')
		FROM notifications WHERE incident_id = ANY($1)
		ORDER BY incident_id, id`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	defer rows.Close()
	out := map[int64][]NotificationStatus{}
	for rows.Next() {
		var n NotificationStatus
		var event, channel string
		var delivered, failed sql.NullTime
		if err := rows.Scan(&n.ID, &n.IncidentID, &event, &channel, &n.Attempts, &n.CreatedAt, &delivered, &failed, &n.LastError); err != nil {
			return nil, fmt.Errorf("read notifications: %w", err)
		}
		n.Event, n.Channel = alert.Event(event), alert.Channel(channel)
		if delivered.Valid {
			n.DeliveredAt = &delivered.Time
		}
		if failed.Valid {
			n.FailedAt = &failed.Time
		}
		out[n.IncidentID] = append(out[n.IncidentID], n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return out, nil
}
