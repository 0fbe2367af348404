package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lib/pq"
	"github.com/sitestat/sitestat/contract"
)

// sitesLockID is the session advisory lock held by the one process that
// publishes the websites table to the sites topic.
const sitesLockID int64 = 0x7369746573707562

// SitesChannel is the channel the websites trigger notifies, with the
// website id as payload.
const SitesChannel = "sitestat_websites"

// LookupSite returns the website with the id, and false when there is none.
func (db *DB) LookupSite(ctx context.Context, id int64) (contract.Site, bool, error) {
	site, err := scanSite(db.db.QueryRowContext(ctx, "SELECT "+siteColumns+" FROM websites WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return site, false, nil
	}
	if err != nil {
		return site, false, fmt.Errorf("look up site %d: %w", id, err)
	}
	return site, true, nil
}

// SitesLock is the advisory lock of the sites publisher, held by a
// connection of its own for as long as the lock is.
type SitesLock struct {
	conn *sql.Conn
}

// TryLockSites takes the sites publisher's lock if no other session holds
// it, and returns nil (and no error) when one does.
func (db *DB) TryLockSites(ctx context.Context) (*SitesLock, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock sites: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", sitesLockID).Scan(&got); err != nil {
		discard(conn)
		return nil, fmt.Errorf("lock sites: %w", err)
	}
	if !got {
		conn.Close()
		return nil, nil
	}
	return &SitesLock{conn: conn}, nil
}

// Held returns nil while the lock's connection is alive (and so the lock
// held), an error once it is lost.
func (l *SitesLock) Held(ctx context.Context) error {
	if err := l.conn.PingContext(ctx); err != nil {
		return fmt.Errorf("sites lock lost: %w", err)
	}
	return nil
}

// Release gives the lock up. A connection that cannot unlock is closed, so
// the server drops the lock with the session.
func (l *SitesLock) Release(ctx context.Context) {
	if _, err := l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", sitesLockID); err != nil {
		discard(l.conn)
		return
	}
	l.conn.Close()
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// SiteChanges delivers the ids of changed websites, announced by the
// websites trigger, over a connection of its own that reconnects by itself.
type SiteChanges struct {
	l *pq.Listener
}

// ListenSites starts listening on SitesChannel.
func (db *DB) ListenSites(ctx context.Context) (*SiteChanges, error) {
	l := pq.NewListener(db.dsn, 100*time.Millisecond, 5*time.Second, nil)
	done := make(chan error, 1)
	go func() { done <- l.Listen(SitesChannel) }()
	select {
	case err := <-done:
		if err != nil {
			l.Close()
			return nil, redactError(fmt.Errorf("listen for site changes: %w", err), db.dsn, db.password)
		}
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	}
	return &SiteChanges{l: l}, nil
}

// Next waits for a change and returns the website's id, or 0 after the
// connection was lost and made again (changes may have been missed: read the
// whole table).
func (c *SiteChanges) Next(ctx context.Context) (int64, error) {
	for {
		select {
		case n, ok := <-c.l.NotificationChannel():
			if !ok {
				return 0, errors.New("listen for site changes: listener closed")
			}
			if n == nil {
				return 0, nil
			}
			id, err := strconv.ParseInt(n.Extra, 10, 64)
			if err != nil || id <= 0 {
				continue // not ours; the full reconcile covers anything odd
			}
			return id, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close stops listening.
func (c *SiteChanges) Close() error { return c.l.Close() }
