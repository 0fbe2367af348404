// Package retry is sitestat's one capped exponential backoff: the waits
// between attempts of the checker's site reload, sync's database and
// dead-letter retries, and the start-up waits for PostgreSQL and Kafka.
package retry

import (
	"context"
	"time"
)

// Backoff doubles the wait from Min after each failed attempt, up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait before retry number attempt (counted from 0): Min
// doubled attempt times, capped at Max. A Max below Min is taken as Min.
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, max(b.Max, b.Min))
}

// Wait sleeps Delay(attempt) and reports whether it did; false means ctx
// ended first.
func (b Backoff) Wait(ctx context.Context, attempt int) bool {
	return Sleep(ctx, b.Delay(attempt))
}

// Sleep waits d or until ctx is done, and reports whether it waited d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
