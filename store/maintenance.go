package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidWindow is wrapped by the errors of AddMaintenance given a
// window that cannot be stored.
var ErrInvalidWindow = errors.New("invalid maintenance window")

// MaintenanceWindow is planned work: while it covers a check's checked_at,
// no down incident opens for the websites it covers, and a down incident
// opened after it starts at the first failure outside every window (a
// failure inside one counts towards the failure threshold, not the
// incident's duration or the site's downtime).
type MaintenanceWindow struct {
	// ID is maintenance_windows.id; ignored by AddMaintenance.
	ID int64
	// WebsiteID is the website covered; 0 covers every website.
	WebsiteID int64
	// From and Until bound the window: [From, Until).
	From, Until time.Time
	// Reason says why, "" for none.
	Reason string
}

// AddMaintenance stores a window and returns its id. Until must be after
// From and not in the past; a website given must exist (ErrNotFound).
func (db *DB) AddMaintenance(ctx context.Context, w MaintenanceWindow, now time.Time) (int64, error) {
	if !w.Until.After(w.From) {
		return 0, fmt.Errorf("add maintenance: %w: --until %s is not after --from %s", ErrInvalidWindow,
			w.Until.UTC().Format(time.RFC3339), w.From.UTC().Format(time.RFC3339))
	}
	if !w.Until.After(now) {
		return 0, fmt.Errorf("add maintenance: %w: it ended at %s", ErrInvalidWindow, w.Until.UTC().Format(time.RFC3339))
	}
	var site any
	if w.WebsiteID != 0 {
		site = w.WebsiteID
	}
	var id int64
	err := db.db.QueryRowContext(ctx, `
		INSERT INTO maintenance_windows (website_id, starts_at, ends_at, reason)
		SELECT $1::integer, $2, $3, $4
		WHERE $1::integer IS NULL OR EXISTS (SELECT 1 FROM websites WHERE id = $1::integer)
		RETURNING id`, site, w.From, w.Until, w.Reason).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("add maintenance: website %d: %w", w.WebsiteID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add maintenance: %w", err)
	}
	return id, nil
}

// MaintenanceWindows returns the windows that end after since, by start.
func (db *DB) MaintenanceWindows(ctx context.Context, since time.Time) ([]MaintenanceWindow, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, coalesce(website_id, 0), starts_at, ends_at, reason FROM maintenance_windows
		WHERE ends_at > $1 ORDER BY starts_at, id`, since)
	if err != nil {
		return nil, fmt.Errorf("list maintenance: %w", err)
	}
	defer rows.Close()
	var out []MaintenanceWindow
	for rows.Next() {
		var w MaintenanceWindow
		if err := rows.Scan(&w.ID, &w.WebsiteID, &w.From, &w.Until, &w.Reason); err != nil {
			return nil, fmt.Errorf("list maintenance: %w", err)
		}
		w.From, w.Until = w.From.UTC(), w.Until.UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list maintenance: %w", err)
	}
	return out, nil
}

// RemoveMaintenance deletes the window id; the error wraps ErrNotFound
// when there is none. Incidents are not touched: a down that a check during
// the window would have opened opens at the next failing check.
func (db *DB) RemoveMaintenance(ctx context.Context, id int64) error {
	res, err := db.db.ExecContext(ctx, "DELETE FROM maintenance_windows WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("remove maintenance %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("remove maintenance %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("remove maintenance: window %d: %w", id, ErrNotFound)
	}
	return nil
}
