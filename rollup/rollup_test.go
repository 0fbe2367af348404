package rollup

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// fakeDB counts the calls and answers with err (nil: a merge of one hour).
type fakeDB struct {
	mu           sync.Mutex
	folds, warms int
	err          error
}

func (f *fakeDB) FoldRollups(_ context.Context, now time.Time) (store.FoldReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.folds++
	return store.FoldReport{From: now.Add(-time.Hour), To: now, DailyRows: 2}, f.err
}

func (f *fakeDB) WarmWindows(context.Context, time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.warms++
	return f.err
}

func (f *fakeDB) calls() (folds, warms int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.folds, f.warms
}

// TestMergerRun: Run merges at once and on every tick, counts the rows
// merged and the failures, and does not warm the window cache on the day
// it started (a start adds no work).
func TestMergerRun(t *testing.T) {
	for _, tt := range []struct {
		name         string
		err          error
		wantRows     bool
		wantFailures bool
	}{
		{"merges", nil, true, false},
		{"failures are counted", errors.New("database down"), false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err}
			m := New(Options{DB: db, Every: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			testenv.Eventually(t, 5*time.Second, func() bool { n, _ := db.calls(); return n >= 3 }, "three merges")
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
			st := m.Stats()
			if got := st.MergedRows > 0; got != tt.wantRows {
				t.Errorf("merged rows %d, want some: %v", st.MergedRows, tt.wantRows)
			}
			if got := st.Failures > 0; got != tt.wantFailures {
				t.Errorf("failures %d, want some: %v", st.Failures, tt.wantFailures)
			}
			if _, warms := db.calls(); warms != 0 {
				t.Errorf("%d fills of the window cache on the day Run started, want 0", warms)
			}
		})
	}
}
