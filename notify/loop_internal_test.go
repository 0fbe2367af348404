package notify

import (
	"testing"
	"time"
)

// TestLeaseCoversSendAndMark: whatever is configured, the lease a loop uses
// exceeds the send timeout plus one outbox call plus the guard, so a
// delivery recorded within its DBTimeout is recorded before another loop may
// claim it.
func TestLeaseCoversSendAndMark(t *testing.T) {
	tests := []struct {
		name               string
		timeout, db, lease time.Duration
		want               time.Duration
	}{
		{"defaults", 0, 0, 0, 10*time.Second + 30*time.Second + LeaseMargin},
		{"sync's wiring", 10 * time.Second, 30 * time.Second, 0, 50 * time.Second},
		{"too short: the old 2×Timeout+10s", 10 * time.Second, 30 * time.Second, 30 * time.Second, 50 * time.Second},
		{"just enough", time.Second, time.Second, 2*time.Second + LeaseGuard, 2*time.Second + LeaseGuard},
		{"longer kept", time.Second, time.Second, time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := LoopOptions{Timeout: tt.timeout, DBTimeout: tt.db, Lease: tt.lease}
			o.defaults()
			if o.Lease != tt.want {
				t.Errorf("lease %s, want %s", o.Lease, tt.want)
			}
			if o.Lease < o.Timeout+o.DBTimeout+LeaseGuard {
				t.Errorf("lease %s does not cover send %s + mark %s + guard %s", o.Lease, o.Timeout, o.DBTimeout, LeaseGuard)
			}
		})
	}
}
