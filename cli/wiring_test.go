package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sitestat/sitestat/config"
)

func TestStartWith(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	down := errors.New("connection refused")
	failing := func(n int, err error) (func(context.Context) (int, error), *int) {
		calls := 0
		return func(context.Context) (int, error) {
			calls++
			if calls <= n {
				return 0, err
			}
			return 42, nil
		}, &calls
	}
	tests := []struct {
		name      string
		fails     int
		err       error
		once      bool
		cancel    bool
		want      int
		wantErr   error
		wantCalls int
	}{
		{"up at once", 0, down, false, false, 42, nil, 1},
		{"waits for a service", 1, down, false, false, 42, nil, 2},
		{"once does not wait", 1, down, true, false, 0, down, 1},
		{"config error is final", 5, &config.Error{Var: "SITESTAT_X", Msg: "bad"}, false, false, 0, nil, 1},
		{"signal while waiting", 100, down, false, true, 0, errStopped, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			open, calls := failing(tt.fails, tt.err)
			got, err := startWith(ctx, log, "thing", tt.once, open)
			if got != tt.want {
				t.Errorf("value = %d, want %d", got, tt.want)
			}
			var ce *config.Error
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && tt.want == 0 && !errors.As(err, &ce):
				t.Errorf("err = %v, want the config error", err)
			case tt.want == 42 && err != nil:
				t.Errorf("err = %v, want nil", err)
			}
			if *calls != tt.wantCalls {
				t.Errorf("open called %d times, want %d", *calls, tt.wantCalls)
			}
		})
	}
}
