// Package siteset is the site list of `check` with SITESTAT_CHECK_SOURCE=kafka:
// the sites of the partitions of the compacted sites topic that this process
// is assigned, read from the start of each partition on assignment and
// followed live, kept on disk so that a restart while Kafka is unreachable
// still checks the last known sites.
//
// A Set is a kafka.Handler (of a Consumer in Reread mode) and a
// checker.SiteSource and checker.SiteNotifier (of the Runner; checked in
// its tests, so that siteset does not import the prober).
package siteset

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
)

// Options configures a Set.
type Options struct {
	// StateFile is where the set is kept between runs; "" keeps nothing.
	StateFile string
	// RevokeGrace is how long a revoked partition's sites are still
	// checked: until its new owner has read the partition and checks them
	// (with shared slots, checks of both owners in one slot are the same
	// check, stored once). 0 drops them at once.
	RevokeGrace time.Duration
	// Logger receives the set's log lines; nil discards them.
	Logger *slog.Logger
}

// Set is the sites of the partitions assigned to this process. Safe for
// concurrent use (the Consumer calls it from one goroutine per partition).
type Set struct {
	opts Options
	log  *slog.Logger

	mu sync.Mutex
	// parts holds what is checked, by partition: the last complete view of
	// each partition (from the state file until the partition is read again).
	parts map[int32]map[int64]contract.Site
	// building holds the partitions being read from their start after an
	// assignment; each replaces its entry in parts once it caught up.
	building map[int32]map[int64]contract.Site
	// leaving holds revoked partitions still checked for RevokeGrace, with
	// the generation of their revocation (a later assignment cancels it).
	leaving map[int32]uint64
	gen     uint64
	// fromFile: parts came from the state file and no partition has been
	// assigned yet.
	fromFile bool
	frozen   bool

	changed         chan struct{}
	bad, saveErrors atomic.Int64
}

var _ kafka.Handler = (*Set)(nil)

// New returns an empty Set; Load reads the state file into it.
func New(opts Options) *Set {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Set{opts: opts, log: opts.Logger, parts: map[int32]map[int64]contract.Site{},
		building: map[int32]map[int64]contract.Site{}, leaving: map[int32]uint64{}, changed: make(chan struct{}, 1)}
}

// stateVersion is the version of the state file's format.
const stateVersion = 1

// stateFile is the state file: the sites of each partition, as published.
type stateFile struct {
	V          int                               `json:"v"`
	Partitions map[string][]contract.SiteMessage `json:"partitions"`
}

// Load reads the state file, when there is one, and returns how many sites
// it held. A missing file is no error (a first start); an unreadable one is.
func (s *Set) Load() (int, error) {
	if s.opts.StateFile == "" {
		return 0, nil
	}
	b, err := os.ReadFile(s.opts.StateFile)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load sites state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return 0, fmt.Errorf("load sites state %s: %w", s.opts.StateFile, err)
	}
	if f.V != stateVersion {
		return 0, fmt.Errorf("load sites state %s: version %d, want %d", s.opts.StateFile, f.V, stateVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, msgs := range f.Partitions {
		part, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("load sites state %s: partition %q", s.opts.StateFile, p)
		}
		m := map[int64]contract.Site{}
		for _, msg := range msgs {
			b, _ := json.Marshal(msg)
			site, err := contract.DecodeSite(msg.ID, b)
			if err != nil {
				return 0, fmt.Errorf("load sites state %s: %w", s.opts.StateFile, err)
			}
			m[site.ID] = site
			n++
		}
		s.parts[int32(part)] = m
	}
	s.fromFile = len(s.parts) > 0
	s.notifyLocked(false)
	return n, nil
}

// Sites returns the sites of every partition held, by id.
func (s *Set) Sites(context.Context) ([]contract.Site, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []contract.Site
	for _, m := range s.parts {
		for _, site := range m {
			out = append(out, site)
		}
	}
	slices.SortFunc(out, func(a, b contract.Site) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Partitions returns the partitions whose sites are checked, in order.
func (s *Set) Partitions() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.parts))
}

// SitesChanged implements checker.SiteNotifier.
func (s *Set) SitesChanged() <-chan struct{} { return s.changed }

// Bad returns how many records could not be read as sites (skipped).
func (s *Set) Bad() int64 { return s.bad.Load() }

// Freeze stops the set from changing: assignments, revocations and records
// that come after are ignored. `check` freezes it on SIGTERM before leaving
// the group, so that it goes on checking its sites until the others took
// them over.
func (s *Set) Freeze() {
	s.mu.Lock()
	s.frozen = true
	s.mu.Unlock()
}

// Assigned starts reading partition from its start; until it has caught
// up, what was known of it (from the state file) is still checked. The
// first assignment drops what the state file held for other partitions.
func (s *Set) Assigned(_ string, partition int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen {
		return
	}
	if s.fromFile {
		s.fromFile = false
		for p := range s.parts {
			if p != partition {
				delete(s.parts, p)
			}
		}
		s.notifyLocked(true)
	}
	delete(s.leaving, partition) // back before its grace ended: keep its view until read again
	s.building[partition] = map[int64]contract.Site{}
	s.log.Debug("partition assigned; reading it from the start", "partition", partition)
}

// Revoked drops the partition's sites, after RevokeGrace.
func (s *Set) Revoked(_ string, partition int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen {
		return
	}
	delete(s.building, partition)
	if _, ok := s.parts[partition]; !ok {
		return
	}
	if s.opts.RevokeGrace <= 0 {
		delete(s.parts, partition)
		s.notifyLocked(true)
		return
	}
	s.gen++
	gen := s.gen
	s.leaving[partition] = gen
	s.log.Debug("partition revoked; checking its sites until the new owner does", "partition", partition, "for", s.opts.RevokeGrace)
	time.AfterFunc(s.opts.RevokeGrace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.frozen || s.leaving[partition] != gen {
			return // assigned again meanwhile, or the process is stopping
		}
		delete(s.leaving, partition)
		delete(s.parts, partition)
		s.notifyLocked(true)
		s.log.Debug("revoked partition dropped", "partition", partition)
	})
}

// HandleBatch applies a batch of the partition: a site record sets the site,
// a tombstone removes it, a record that cannot be read is skipped (and
// counted). It never fails.
func (s *Set) HandleBatch(_ context.Context, b *kafka.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen {
		return nil
	}
	m, building := s.building[b.Partition]
	if !building {
		if m = s.parts[b.Partition]; m == nil {
			m = map[int64]contract.Site{}
			s.parts[b.Partition] = m
		}
	}
	for _, r := range b.Records {
		id, err := contract.ParseSiteKey(r.Key)
		if err != nil {
			s.bad.Add(1)
			s.log.Warn("sites topic: record skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
			continue
		}
		if r.Value == nil {
			delete(m, id)
			continue
		}
		site, err := contract.DecodeSite(id, r.Value)
		if err != nil {
			s.bad.Add(1)
			s.log.Warn("sites topic: record skipped", "partition", r.Partition, "offset", r.Offset, "site_id", id, "err", err)
			continue
		}
		m[id] = site
	}
	if building {
		if len(b.Records) == 0 || b.Records[len(b.Records)-1].Offset+1 < b.HighWaterMark {
			return nil // not caught up yet: keep checking the old view
		}
		delete(s.building, b.Partition)
		s.parts[b.Partition] = m
		s.log.Debug("partition read to its end", "partition", b.Partition, "sites", len(m))
	}
	s.notifyLocked(true)
	return nil
}

// notifyLocked tells the Runner, and saves the state file when save.
func (s *Set) notifyLocked(save bool) {
	select {
	case s.changed <- struct{}{}:
	default:
	}
	if save && s.opts.StateFile != "" {
		if err := s.saveLocked(); err != nil {
			s.saveErrors.Add(1)
			s.log.Warn("save sites state", "path", s.opts.StateFile, "err", err)
		}
	}
}

// saveLocked writes the state file atomically (a temporary file renamed).
func (s *Set) saveLocked() error {
	f := stateFile{V: stateVersion, Partitions: map[string][]contract.SiteMessage{}}
	for p, m := range s.parts {
		msgs := make([]contract.SiteMessage, 0, len(m))
		for _, site := range m {
			var msg contract.SiteMessage
			if err := json.Unmarshal(contract.EncodeSite(site), &msg); err != nil {
				return err
			}
			msgs = append(msgs, msg)
		}
		slices.SortFunc(msgs, func(a, b contract.SiteMessage) int { return cmp.Compare(a.ID, b.ID) })
		f.Partitions[strconv.Itoa(int(p))] = msgs
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.opts.StateFile)
	tmp, err := os.CreateTemp(dir, ".sites-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.opts.StateFile)
}
