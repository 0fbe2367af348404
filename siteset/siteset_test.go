package siteset_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/siteset"
)

func site(id int64) contract.Site {
	return contract.Site{ID: id, URL: "http://u:p@127.0.0.1/" + string(rune('a'+id)), Interval: time.Duration(id) * time.Second}
}

func rec(p int32, off int64, id int64, value []byte) kafka.Record {
	return kafka.Record{Partition: p, Offset: off, Key: contract.SiteKey(id), Value: value}
}

func ids(t *testing.T, s *siteset.Set) []int64 {
	t.Helper()
	sites, err := s.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, x := range sites {
		out = append(out, x.ID)
	}
	return out
}

func changed(s *siteset.Set) bool {
	select {
	case <-s.SitesChanged():
		return true
	default:
		return false
	}
}

func TestSetFollowsPartitions(t *testing.T) {
	ctx := context.Background()
	s := siteset.New(siteset.Options{})
	s.Assigned("sites", 0)
	s.Assigned("sites", 1)
	// Partition 0 is read from its start in two batches: until the second
	// reaches the high-water mark nothing of it is served.
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 0, HighWaterMark: 4, Records: []kafka.Record{
		rec(0, 0, 1, contract.EncodeSite(site(1))), rec(0, 1, 2, contract.EncodeSite(site(2)))}})
	if got := ids(t, s); len(got) != 0 || changed(s) {
		t.Fatalf("sites while partition 0 is read = %v, want none and no change", got)
	}
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 0, HighWaterMark: 4, Records: []kafka.Record{
		rec(0, 2, 1, nil), rec(0, 3, 3, contract.EncodeSite(site(3)))}})
	if got := ids(t, s); !slices.Equal(got, []int64{2, 3}) || !changed(s) {
		t.Fatalf("sites after partition 0 caught up = %v, want [2 3] and a change", got)
	}
	// Live records apply at once; a bad one is skipped and counted.
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 0, HighWaterMark: 7, Records: []kafka.Record{
		rec(0, 4, 4, contract.EncodeSite(site(4))), {Partition: 0, Offset: 5, Key: []byte("x")},
		rec(0, 6, 5, []byte(`{"v":9}`))}})
	if got := ids(t, s); !slices.Equal(got, []int64{2, 3, 4}) || s.Bad() != 2 {
		t.Fatalf("sites = %v, bad %d; want [2 3 4], 2", got, s.Bad())
	}
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 1, HighWaterMark: 1, Records: []kafka.Record{rec(1, 0, 9, contract.EncodeSite(site(9)))}})
	if got := ids(t, s); !slices.Equal(got, []int64{2, 3, 4, 9}) {
		t.Fatalf("sites = %v", got)
	}
	s.Revoked("sites", 0)
	if got := ids(t, s); !slices.Equal(got, []int64{9}) || !changed(s) {
		t.Fatalf("sites after revoking partition 0 = %v, want [9] and a change", got)
	}
	if got := s.Partitions(); !slices.Equal(got, []int32{1}) {
		t.Fatalf("partitions = %v", got)
	}
	// Frozen (a stopping checker): nothing changes any more.
	s.Freeze()
	s.Revoked("sites", 1)
	if got := ids(t, s); !slices.Equal(got, []int64{9}) {
		t.Fatalf("sites after a revocation while frozen = %v, want [9]", got)
	}
}

// TestSetStateFile: the sites are kept on disk (mode 0600: the URLs hold
// credentials); a new Set loads them and serves them until a partition is
// assigned, then keeps only that partition's until it is read again.
func TestSetStateFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sites-p.json")
	s := siteset.New(siteset.Options{StateFile: path})
	s.Assigned("sites", 2)
	s.Assigned("sites", 5)
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 2, HighWaterMark: 1, Records: []kafka.Record{rec(2, 0, 1, contract.EncodeSite(site(1)))}})
	_ = s.HandleBatch(ctx, &kafka.Batch{Partition: 5, HighWaterMark: 2, Records: []kafka.Record{
		rec(5, 0, 2, contract.EncodeSite(site(2))), rec(5, 1, 3, contract.EncodeSite(site(3)))}})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	r := siteset.New(siteset.Options{StateFile: path})
	n, err := r.Load()
	if err != nil || n != 3 {
		t.Fatalf("Load = %d, %v; want 3", n, err)
	}
	if got := ids(t, r); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("sites after Load = %v", got)
	}
	sites, _ := r.Sites(ctx)
	if sites[0] != site(1) {
		t.Errorf("loaded %+v, want %+v", sites[0], site(1))
	}
	// Partition 5 assigned: partition 2's sites went elsewhere; 5's are
	// checked until it has been read again.
	r.Assigned("sites", 5)
	if got := ids(t, r); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("sites after assigning partition 5 = %v, want [2 3]", got)
	}
	_ = r.HandleBatch(ctx, &kafka.Batch{Partition: 5, HighWaterMark: 3, Records: []kafka.Record{
		rec(5, 0, 2, contract.EncodeSite(site(2))), rec(5, 1, 3, contract.EncodeSite(site(3))), rec(5, 2, 3, nil)}})
	if got := ids(t, r); !slices.Equal(got, []int64{2}) {
		t.Fatalf("sites after partition 5 was read again = %v, want [2]", got)
	}

	if _, err := siteset.New(siteset.Options{StateFile: filepath.Join(t.TempDir(), "none.json")}).Load(); err != nil {
		t.Errorf("Load without a state file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := siteset.New(siteset.Options{StateFile: bad}).Load(); err == nil {
		t.Errorf("Load of a broken state file: no error")
	}
}

// TestSetRevokeGrace: a revoked partition's sites are checked for
// RevokeGrace (until the new owner checks them), then dropped; a partition
// assigned again within the grace keeps its sites throughout.
func TestSetRevokeGrace(t *testing.T) {
	ctx := context.Background()
	grace := 200 * time.Millisecond
	s := siteset.New(siteset.Options{RevokeGrace: grace})
	for p := int32(0); p < 2; p++ {
		s.Assigned("sites", p)
		_ = s.HandleBatch(ctx, &kafka.Batch{Partition: p, HighWaterMark: 1, Records: []kafka.Record{rec(p, 0, int64(p+1), contract.EncodeSite(site(int64(p+1))))}})
	}
	start := time.Now()
	s.Revoked("sites", 0)
	s.Revoked("sites", 1)
	s.Assigned("sites", 1) // an eager rebalance gives partition 1 back
	if got := ids(t, s); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("sites right after the revocation = %v, want both still checked", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(ids(t, s), []int64{2}) {
		if time.Now().After(deadline) {
			t.Fatalf("sites = %v, want [2] once the grace ended", ids(t, s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < grace {
		t.Errorf("revoked partition dropped after %v, before its grace of %v", d, grace)
	}
	// Frozen: a revoked partition is never dropped.
	s.Revoked("sites", 1)
	s.Freeze()
	time.Sleep(2 * grace)
	if got := ids(t, s); !slices.Equal(got, []int64{2}) {
		t.Fatalf("sites of a frozen set after the grace = %v, want [2]", got)
	}
}
