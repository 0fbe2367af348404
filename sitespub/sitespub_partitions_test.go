package sitespub

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/siteset"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// siteCopies reads the sites topic to its end: the live records of each
// site, by partition (a tombstone in a partition removes that partition's
// copy only, as compaction does).
func siteCopies(t *testing.T, opts kafka.Options, topic string) map[int64]map[int32]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	copies := map[int64]map[int32]string{}
	err := kafka.Scan(ctx, opts, topic, func(r kafka.Record) bool {
		id, err := contract.ParseSiteKey(r.Key)
		if err != nil {
			t.Errorf("sites topic: key %q: %v", r.Key, err)
			return true
		}
		if r.Value == nil {
			delete(copies[id], r.Partition)
			return true
		}
		if copies[id] == nil {
			copies[id] = map[int32]string{}
		}
		copies[id][r.Partition] = string(r.Value)
		return true
	})
	if err != nil {
		t.Fatalf("read sites topic: %v", err)
	}
	for id, c := range copies {
		if len(c) == 0 {
			delete(copies, id)
		}
	}
	return copies
}

// tableState is what the topic must hold: the encoded row of each website.
func tableState(t *testing.T, db *store.DB) map[int64]string {
	t.Helper()
	sites, err := db.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	for _, s := range sites {
		want[s.ID] = string(contract.EncodeSite(s))
	}
	return want
}

// copiesMismatch says how copies differ from one live copy per website of
// want ("" when they agree).
func copiesMismatch(copies map[int64]map[int32]string, want map[int64]string) string {
	for id, c := range copies {
		if len(c) > 1 {
			return fmt.Sprintf("site %d has copies in partitions %v", id, slices.Sorted(maps.Keys(c)))
		}
		for p, v := range c {
			if w, ok := want[id]; !ok {
				return fmt.Sprintf("removed site %d still has a copy in partition %d", id, p)
			} else if v != w {
				return fmt.Sprintf("site %d in partition %d is %s, want %s", id, p, v, w)
			}
		}
	}
	for id := range want {
		if len(copies[id]) == 0 {
			return fmt.Sprintf("site %d is missing", id)
		}
	}
	return ""
}

// TestSitesPublisherPartitionsAdded (issue 18 item 12): after the sites
// topic's partition count grows (kafka-topics --alter), a new publisher
// (sync restarted) updates and removes sites without leaving a stale copy
// in the key's old partition, and its reconcile removes a stale copy that
// was already there; a checker reading every partition sees each site
// once, as the table holds it.
func TestSitesPublisherPartitionsAdded(t *testing.T) {
	ctx := context.Background()
	db, _ := fixture.MigratedDB(t)
	opts := fixture.Options(t)
	topic := fixture.Topic(t, opts, 2, kafka.CompactedConfigs())
	var ids []int64
	for i := range 12 {
		id, err := db.AddSite(ctx, store.SiteInput{URL: fmt.Sprintf("http://127.0.0.1:1/site%d", i), Interval: 5})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	_, stop := startPublisher(t, db, opts, topic)
	testenv.Eventually(t, 2*propagation, func() bool {
		return copiesMismatch(siteCopies(t, opts, topic), tableState(t, db)) == ""
	}, "the first publisher publishes the table")
	stop()

	if err := kafka.AddPartitions(ctx, opts, topic, 24); err != nil {
		t.Fatal(err)
	}
	// A stale copy already on the topic (left by an earlier release): an
	// old URL of ids[0] in a partition it is not in.
	first := siteCopies(t, opts, topic)[ids[0]]
	w, err := kafka.NewRecordWriter(opts, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stale := contract.EncodeSite(contract.Site{ID: ids[0], URL: "http://127.0.0.1:1/old", Interval: 5 * time.Second})
	var plant int32 = 23
	for first[plant] != "" {
		plant--
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, err = w.WriteAt(ctx, plant, contract.SiteKey(ids[0]), stale)
		return err == nil
	}, "plant a stale copy in partition %d: %v", plant, err)

	p, _ := startPublisher(t, db, opts, topic)
	waitFor(t, func() bool { return p.Stats().Reconciles > 0 }, "the second publisher reconciled")
	iv := 9
	for _, id := range ids[:8] {
		if err := db.UpdateSite(ctx, id, store.SiteUpdate{Interval: &iv}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RemoveSites(ctx, ids[8:]); err != nil {
		t.Fatal(err)
	}
	want := tableState(t, db)
	var mismatch string
	testenv.Eventually(t, 2*propagation, func() bool {
		mismatch = copiesMismatch(siteCopies(t, opts, topic), want)
		return mismatch == ""
	}, "after updates and removals on 24 partitions: %s", lazy(func() string { return mismatch }))

	// A checker reading every partition (one process of its probe) sees
	// each site once, as the table holds it.
	set := siteset.New(siteset.Options{})
	c, err := kafka.NewConsumer(opts, kafka.ConsumerOptions{Group: testenv.Name("sitestat-check-test"), Topics: []string{topic},
		Flush: 50 * time.Millisecond, Reread: true})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx, set) }()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	var seen string
	testenv.Eventually(t, 20*time.Second, func() bool {
		sites, _ := set.Sites(ctx)
		got := map[int64]string{}
		for _, s := range sites {
			if _, dup := got[s.ID]; dup {
				seen = fmt.Sprintf("site %d twice", s.ID)
				return false
			}
			got[s.ID] = string(contract.EncodeSite(s))
		}
		seen = fmt.Sprint(got)
		return maps.Equal(got, want)
	}, "the checker's sites: %s", lazy(func() string { return seen }))
}

// lazy is text made when printed: a failure message naming the last state
// a condition saw.
type lazy func() string

func (f lazy) String() string { return f() }
