package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatCompatibility: the heartbeat of a release before Source
// decodes with no source, and a heartbeat with one stays version 1, so that
// an older sync (which accepts v 1 and ignores unknown fields) reads it.
func TestHeartbeatCompatibility(t *testing.T) {
	tests := []struct {
		name, msg, source string
	}{
		{"older checker", `{"v":1,"probe":"eu","host":"h1","at":"2026-01-02T03:04:05Z","sites":3,"checks":9}`, ""},
		{"database checker", `{"v":1,"probe":"eu","host":"h1","at":"2026-01-02T03:04:05Z","sites":3,"checks":9,"source":"db"}`, SourceDB},
		{"kafka checker", `{"v":1,"probe":"eu","host":"h1","at":"2026-01-02T03:04:05Z","sites":3,"checks":9,"source":"kafka"}`, SourceKafka},
		{"a later field", `{"v":1,"probe":"eu","host":"h1","at":"2026-01-02T03:04:05Z","sites":3,"checks":9,"source":"kafka","zone":"b"}`, SourceKafka},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb, err := DecodeHeartbeat([]byte(tt.msg))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if hb.Source != tt.source || hb.Probe != "eu" || hb.Sites != 3 || hb.Checks != 9 {
				t.Errorf("decoded %+v, want source %q", hb, tt.source)
			}
		})
	}

	b, err := json.Marshal(Heartbeat{V: HeartbeatVersion, Probe: "eu", At: time.Now(), Source: SourceKafka})
	if err != nil {
		t.Fatal(err)
	}
	// What the release before Source decoded: v must be 1.
	var older struct {
		V     int       `json:"v"`
		Probe string    `json:"probe"`
		At    time.Time `json:"at"`
	}
	if err := json.Unmarshal(b, &older); err != nil || older.V != 1 || older.Probe != "eu" || older.At.IsZero() {
		t.Errorf("a new heartbeat as an older sync reads it: %+v, %v (%s)", older, err, b)
	}
	if plain, _ := json.Marshal(Heartbeat{V: 1, Probe: "eu", At: time.Now()}); strings.Contains(string(plain), "source") {
		t.Errorf("a heartbeat without a source encodes one: %s", plain)
	}
}
