package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HeartbeatVersion is the version of the Heartbeat message. Fields added
// since (Source) are optional, so it stays 1: an older sync ignores them,
// and a newer one reads an older heartbeat as having none.
const HeartbeatVersion = 1

// The values of Heartbeat.Source: where a check process reads its sites
// (SITESTAT_CHECK_SOURCE).
const (
	SourceDB    = "db"
	SourceKafka = "kafka"
)

// Heartbeat is the small message every `check` process produces to
// `<topic>.heartbeats` every few seconds, whatever it is checking, so that a
// probe checking only hourly sites, or a cron --once checker, is not taken for
// a dead one. The key is the probe name.
type Heartbeat struct {
	// V is HeartbeatVersion.
	V int `json:"v"`
	// Probe is the checking location (SITESTAT_PROBE).
	Probe string `json:"probe"`
	// Host is the machine the check process runs on.
	Host string `json:"host"`
	// At is when the heartbeat was made, UTC.
	At time.Time `json:"at"`
	// Sites is how many sites the process schedules.
	Sites int `json:"sites"`
	// Checks is how many checks it completed since it started.
	Checks uint64 `json:"checks"`
	// Source is where the process reads its sites: SourceDB or
	// SourceKafka; empty in heartbeats of releases before it was added
	// (which read the database). With SITESTAT_SYNC_PUBLISH_SITES=auto,
	// sync publishes the sites topic once a heartbeat says SourceKafka.
	Source string `json:"source,omitempty"`
}

// DecodeHeartbeat parses a heartbeat message; it needs v 1, a probe and a
// time. Unknown fields are ignored.
func DecodeHeartbeat(b []byte) (Heartbeat, error) {
	var h Heartbeat
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("heartbeat: %w", err)
	}
	switch {
	case h.V != HeartbeatVersion:
		return h, fmt.Errorf("heartbeat: version %d, want %d", h.V, HeartbeatVersion)
	case h.Probe == "" || len(h.Probe) > 200:
		return h, errors.New("heartbeat: probe missing or longer than 200 bytes")
	case h.At.IsZero():
		return h, errors.New("heartbeat: at missing")
	}
	h.At = h.At.UTC()
	return h, nil
}
