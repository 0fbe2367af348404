package heartbeat

import (
	"context"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
)

// stored is a HeartbeatWriter that keeps what it is given.
type stored struct{ hbs []contract.Heartbeat }

func (s *stored) RecordHeartbeats(_ context.Context, hbs []contract.Heartbeat) error {
	s.hbs = append(s.hbs, hbs...)
	return nil
}

// TestKafkaCheckers: every heartbeat is stored; the probe of the first
// recent heartbeat of a Kafka-sourced checker is sent on Seen, once; older
// heartbeats and database-sourced ones are not.
func TestKafkaCheckers(t *testing.T) {
	now := time.Now()
	hb := func(probe, source string, at time.Time) contract.Heartbeat {
		return contract.Heartbeat{V: contract.HeartbeatVersion, Probe: probe, Source: source, At: at}
	}
	tests := []struct {
		name string
		hbs  []contract.Heartbeat
		want string // "" = nothing seen
	}{
		{"database-sourced", []contract.Heartbeat{hb("central", contract.SourceDB, now), hb("older", "", now)}, ""},
		{"long ago", []contract.Heartbeat{hb("gone", contract.SourceKafka, now.Add(-time.Hour))}, ""},
		{"the first recent one", []contract.Heartbeat{hb("central", contract.SourceDB, now), hb("edge", contract.SourceKafka, now),
			hb("edge2", contract.SourceKafka, now)}, "edge"},
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
