package heartbeat

import (
	"context"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
)

// stored is a HeartbeatWriter that keeps what it is given.
type stored struct{ hbs []checker.Heartbeat }

func (s *stored) RecordHeartbeats(_ context.Context, hbs []checker.Heartbeat) error {
	s.hbs = append(s.hbs, hbs...)
	return nil
}

// TestKafkaCheckers: every heartbeat is stored; the probe of the first
// recent heartbeat of a Kafka-sourced checker is sent on Seen, once; older
// heartbeats and database-sourced ones are not.
func TestKafkaCheckers(t *testing.T) {
	now := time.Now()
	hb := func(probe, source string, at time.Time) checker.Heartbeat {
		return checker.Heartbeat{V: checker.HeartbeatVersion, Probe: probe, Source: source, At: at}
	}
	tests := []struct {
		name string
		hbs  []checker.Heartbeat
		want string // "" = nothing seen
	}{
		{"database-sourced", []checker.Heartbeat{hb("central", checker.SourceDB, now), hb("older", "", now)}, ""},
		{"long ago", []checker.Heartbeat{hb("gone", checker.SourceKafka, now.Add(-time.Hour))}, ""},
		{"the first recent one", []checker.Heartbeat{hb("central", checker.SourceDB, now), hb("edge", checker.SourceKafka, now),
			hb("edge2", checker.SourceKafka, now)}, "edge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &stored{}
			k := NewKafkaCheckers(w)
			for range 2 {
				if err := k.RecordHeartbeats(context.Background(), tt.hbs); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := len(w.hbs), 2*len(tt.hbs); got != want {
				t.Errorf("%d heartbeats stored, want %d", got, want)
			}
			var got string
			select {
			case got = <-k.Seen():
			default:
			}
			if got != tt.want {
				t.Errorf("seen %q, want %q", got, tt.want)
			}
			select {
			case again := <-k.Seen():
				t.Errorf("seen a second time: %q", again)
			default:
			}
		})
	}
}
