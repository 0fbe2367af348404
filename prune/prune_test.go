package prune

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// fakeDB answers the pruner with rep, or err.
type fakeDB struct {
	mu     sync.Mutex
	passes int
	rep    store.PruneReport
	err    error
}

func (f *fakeDB) EnsurePartitions(context.Context, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func (f *fakeDB) Prune(context.Context, store.Retention, time.Time, bool) (store.PruneReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes++
	return f.rep, f.err
}

func (f *fakeDB) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.passes
}

// TestPrunerRun: a pass at once and on every tick; what the passes dropped
// and their failures are counted, and the time of the last success is kept.
func TestPrunerRun(t *testing.T) {
	rep := store.PruneReport{Partitions: []store.PrunedPartition{{Partition: store.Partition{Name: "website_status_p20260101"}, Rows: 10}}, HourlyRows: 3, DailyRows: 1}
	for _, tt := range []struct {
		name string
		err  error
		want func(Stats) bool
	}{
		{"counts what it dropped", nil, func(s Stats) bool {
			return s.Runs >= 2 && s.Failures == 0 && s.Partitions == s.Runs && s.RollupRows == 4*s.Runs && !s.LastOK.IsZero()
		}},
		{"counts failures", errors.New("database down"), func(s Stats) bool {
			return s.Runs == 0 && s.Failures >= 2 && s.LastOK.IsZero()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{rep: rep, err: tt.err}
			p := New(Options{DB: db, Every: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			testenv.Eventually(t, 5*time.Second, func() bool { return db.count() >= 2 }, "two passes")
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
			if st := p.Stats(); !tt.want(st) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestLines(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rep  store.PruneReport
		want []string
	}{
		{"skipped", store.PruneReport{Skipped: true}, []string{"another process is pruning; nothing done"}},
		{"dry run", store.PruneReport{DryRun: true, RawBefore: day}, []string{
			"raw: would drop 0 partition(s), about 0 rows (before 2026-01-01T00:00:00Z)",
			"hourly rollups: would delete 0 rows (kept forever)",
			"daily rollups: would delete 0 rows (kept forever)",
			"dry run: nothing was changed",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Lines(tt.rep); !slices.Equal(got, tt.want) {
				t.Errorf("Lines = %q, want %q", got, tt.want)
			}
		})
	}
}
