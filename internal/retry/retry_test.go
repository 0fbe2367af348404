package retry

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{60, time.Second},
	} {
		if got := b.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	if got, want := (Backoff{Min: time.Second, Max: time.Millisecond}).Delay(5), time.Second; got != want {
		t.Errorf("Max below Min: Delay = %v, want %v", got, want)
	}
}

func TestWaitStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if (Backoff{Min: time.Minute, Max: time.Minute}).Wait(ctx, 0) {
		t.Fatal("Wait reported a full wait on a cancelled context")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait took %v on a cancelled context", d)
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep of 1ms reported false")
	}
}
