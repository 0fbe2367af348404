//go:build serial

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/checker"
	"github.com/sitestat/sitestat/contract"
)

// checkedRE matches the debug line of one check in a check process's log.
var checkedRE = regexp.MustCompile(`(?m)^.*msg=checked .*site_id=(\d+) .*$`)

// checkedSince returns the sites p logged a check of after byte offset from
// of its log, and the log's length now.
func checkedSince(p *proc, from int) (map[int64]bool, int) {
	out := p.output()
	sites := map[int64]bool{}
	for _, m := range checkedRE.FindAllStringSubmatch(out[min(from, len(out)):], -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		sites[id] = true
	}
	return sites, len(out)
}

// scaleEnv are the settings of a check process reading the sites topic:
// no database URL at all, a short group session so that tests stay short.
func scaleEnv(probe, stateDir string, more ...string) []string {
	return append([]string{
		"SITESTAT_DATABASE_URL=",
		"SITESTAT_CHECK_SOURCE=kafka",
		"SITESTAT_PROBE=" + probe,
		"SITESTAT_CHECK_STATE_DIR=" + stateDir,
		"SITESTAT_CHECK_SESSION_TIMEOUT=6s",
		"SITESTAT_CHECK_GROUP_HEARTBEAT=1s",
		"SITESTAT_LOG_LEVEL=debug",
	}, more...)
}

// TestSerialScaleKafkaSource: sync publishes the websites table; a check
// process with SITESTAT_CHECK_SOURCE=kafka and no database URL checks every
// site, and a site added with `sitestat sites add` within 5 s (plus its
// interval); a second process of the same probe takes half of the
// partitions and the two then check disjoint sets that cover every site; a
// process restarted while Kafka is unreachable checks the sites it last
// knew.
func TestSerialScaleKafkaSource(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	const n = 24
	all := map[int64]bool{}
	for i := range n {
		all[e.addSite(tg.url(fmt.Sprintf("/ok?site=%d", i)), 1, "")] = true
	}
	e.start("sync", []string{"SITESTAT_SYNC_PUBLISH_SITES=true", "SITESTAT_SITES_LOCK_RETRY=500ms"}, "sync")

	dirA := t.TempDir()
	a := e.start("check-a", scaleEnv("scale", dirA), "check")
	covered := func(ps ...*proc) func() (bool, string) {
		return func() (bool, string) {
			got := map[int64]bool{}
			for _, p := range ps {
				s, _ := checkedSince(p, 0)
				for id := range s {
					got[id] = true
				}
			}
			for id := range all {
				if !got[id] {
					return false, fmt.Sprintf("%d of %d sites checked", len(got), len(all))
				}
			}
			return true, ""
		}
	}
	waitFor(t, 30*time.Second, "the kafka-source checker checks every site of the table", covered(a))
	if !strings.Contains(a.output(), "cooperative=true") {
		t.Errorf("the checker does not say it reads the sites with the cooperative-sticky strategy")
	}

	start := time.Now()
	added := e.addSiteCLI(tg.url("/ok?site=added"), "--interval", "1")
	all[added] = true
	waitFor(t, 5*time.Second+2*time.Second, "a site added with sites add is checked", func() (bool, string) {
		s, _ := checkedSince(a, 0)
		return s[added], "not yet"
	})
	t.Logf("sites add → first check: %v", time.Since(start))

	b := e.start("check-b", scaleEnv("scale", t.TempDir()), "check")
	// Both processes hold partitions once each checks some sites the other
	// no longer does; then, over a window of several intervals, the two
	// sets must be disjoint and cover every site.
	var offA, offB int
	waitFor(t, 30*time.Second, "the second process takes over part of the sites", func() (bool, string) {
		_, offA = checkedSince(a, 0)
		_, offB = checkedSince(b, 0)
		time.Sleep(3 * time.Second)
		sa, _ := checkedSince(a, offA)
		sb, _ := checkedSince(b, offB)
		return len(sa) > 0 && len(sb) > 0 && len(sa)+len(sb) == len(all) && disjoint(sa, sb),
			fmt.Sprintf("a checks %d, b %d, of %d", len(sa), len(sb), len(all))
	})
	_, offA = checkedSince(a, 0)
	_, offB = checkedSince(b, 0)
	time.Sleep(4 * time.Second)
	sa, _ := checkedSince(a, offA)
	sb, _ := checkedSince(b, offB)
	if !disjoint(sa, sb) {
		t.Errorf("two processes of one probe both check sites %v", both(sa, sb))
	}
	for id := range all {
		if !sa[id] && !sb[id] {
			t.Errorf("site %d checked by neither process in 4 s (interval 1 s)", id)
		}
	}
	t.Logf("split: a checks %d sites, b %d", len(sa), len(sb))

	// Stop a (its state file holds its last sites), then start it again
	// with Kafka unreachable: it checks those sites.
	a.stop()
	_, offB = checkedSince(b, 0)
	a2 := e.start("check-a-no-kafka", scaleEnv("scale", dirA, "SITESTAT_KAFKA_BROKERS=127.0.0.1:1", "SITESTAT_SHUTDOWN_TIMEOUT=1s"), "check")
	waitFor(t, 10*time.Second, "the restarted process checks its last known sites without Kafka", func() (bool, string) {
		s, _ := checkedSince(a2, 0)
		return len(s) == len(sa) && !slices.ContainsFunc(keys(s), func(id int64) bool { return !sa[id] }),
			fmt.Sprintf("checks %d sites, knew %d", len(s), len(sa))
	})
	if !strings.Contains(a2.output(), "last known sites loaded") {
		t.Errorf("the restarted process did not say it loaded its last known sites")
	}
	// Meanwhile b, alone in the group, took every site over.
	waitFor(t, 20*time.Second, "the remaining process checks every site", func() (bool, string) {
		s, _ := checkedSince(b, offB)
		return len(s) == len(all), fmt.Sprintf("%d of %d", len(s), len(all))
	})
	a2.kill()
	b.stop()

	// Every result on the topic names the probe and a site of the table.
	byID, _, bad := e.produced()
	if bad != 0 {
		t.Errorf("%d results on the topic are not valid", bad)
	}
	for _, r := range byID {
		if r.Probe != "scale" || !all[r.WebsiteID] {
			t.Errorf("result %s: probe %q, site %d", r.CheckID, r.Probe, r.WebsiteID)
			break
		}
	}
}

func disjoint(a, b map[int64]bool) bool { return len(both(a, b)) == 0 }

func both(a, b map[int64]bool) []int64 {
	var out []int64
	for id := range a {
		if b[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func boolSet[V any](m map[int64]V) map[int64]bool {
	out := make(map[int64]bool, len(m))
	for id := range m {
		out[id] = true
	}
	return out
}

// pqArray passes ids as a PostgreSQL bigint[] literal.
func pqArray(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// slotsStored returns, per site, the Unix milliseconds of the checked_at of
// probe's rows between from and to.
func (e *env) slotsStored(probe string, from, to time.Time) map[int64]map[int64]bool {
	e.t.Helper()
	rs, err := e.db.Query(`SELECT website_id, (extract(epoch FROM timestamp_utc) * 1000)::bigint
		FROM website_status WHERE probe = $1 AND timestamp_utc BETWEEN $2 AND $3`, probe, from, to)
	if err != nil {
		e.t.Fatalf("read rows: %v", err)
	}
	defer rs.Close()
	out := map[int64]map[int64]bool{}
	for rs.Next() {
		var id, ms int64
		if err := rs.Scan(&id, &ms); err != nil {
			e.t.Fatal(err)
		}
		if out[id] == nil {
			out[id] = map[int64]bool{}
		}
		out[id][ms] = true
	}
	return out
}

// missedSlots counts, per site, the slots of probe between from and to
// (interval 1 s) with no stored check.
func missedSlots(stored map[int64]map[int64]bool, sites map[int64]bool, probe string, from, to time.Time) map[int64]int {
	out := map[int64]int{}
	for id := range sites {
		for s := checker.SlotAt(id, probe, time.Second, from); !s.After(to); s = s.Add(time.Second) {
			if !stored[id][s.UnixMilli()] {
				out[id]++
			}
		}
	}
	return out
}

// largestGap returns the longest time between two stored checks of a site
// (or its window's edges) between from and to.
func largestGap(stored map[int64]bool, from, to time.Time) time.Duration {
	times := []int64{from.UnixMilli(), to.UnixMilli()}
	for ms := range stored {
		times = append(times, ms)
	}
	slices.Sort(times)
	var gap int64
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i]-times[i-1])
	}
	return time.Duration(gap) * time.Millisecond
}

// TestSerialScaleFailover: three check processes of probe a and one of b
// share 60 sites (SITESTAT_TEST_SCALE_SITES) checked every second, through the sites topic. The three a
// processes split the sites (balance logged); kill -9 of one: its sites
// resume within the failover bound, and no other site misses a slot; a
// rolling restart of the three with SIGTERM, one at a time, misses no slot;
// probe b checks every site in every slot throughout; and no slot of a
// probe is stored twice.
func TestSerialScaleFailover(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	n := 60 // scripts/bench scale sets 300
	if v := os.Getenv("SITESTAT_TEST_SCALE_SITES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("SITESTAT_TEST_SCALE_SITES=%q", v)
		}
	}
	all := map[int64]bool{}
	for i := range n {
		all[e.addSite(tg.url(fmt.Sprintf("/ok?site=%d", i)), 1, "")] = true
	}
	e.start("sync", []string{"SITESTAT_SYNC_PUBLISH_SITES=true", "SITESTAT_SITES_LOCK_RETRY=500ms"}, "sync")
	const session, heartbeat = 6 * time.Second, time.Second
	bound := session + heartbeat + time.Second + 2*time.Second
	start := func(name, probe string) *proc {
		return e.start(name, scaleEnv(probe, t.TempDir()), "check")
	}
	a := []*proc{start("a1", "a"), start("a2", "a"), start("a3", "a")}
	start("b1", "b")
	begin := time.Now()

	// The split: over a window, the three check disjoint sets covering every site.
	var counts []int
	waitFor(t, 40*time.Second, "three processes of probe a split the sites", func() (bool, string) {
		offs := make([]int, len(a))
		for i, p := range a {
			_, offs[i] = checkedSince(p, 0)
		}
		time.Sleep(3 * time.Second)
		union := map[int64]bool{}
		total := 0
		counts = counts[:0]
		for i, p := range a {
			s, _ := checkedSince(p, offs[i])
			counts = append(counts, len(s))
			total += len(s)
			for id := range s {
				union[id] = true
			}
		}
		return total == n && len(union) == n && !slices.Contains(counts, 0), fmt.Sprintf("sites per process %v", counts)
	})
	mean := float64(n) / 3
	balance := float64(slices.Max(counts)) / mean
	t.Logf("split of %d sites over 3 processes on 12 partitions: %v (max/mean %.2f)", n, counts, balance)

	// Propagation: sites added by hand in SQL, one every 200 ms, each until
	// both probes' first result is stored (through the trigger, sync's
	// publisher, the sites topic, a checker's next slot, the results
	// topic and sync).
	added := map[int64]time.Time{}
	for i := range 20 {
		added[e.addSite(tg.url(fmt.Sprintf("/ok?added=%d", i)), 1, "")] = time.Now()
		time.Sleep(200 * time.Millisecond)
	}
	// Each (site, probe) is timed by the first result's record on the
	// results topic (its CreateTime, set by the checker's producer, on
	// this host's clock), once both probes' results are stored.
	type sp struct {
		id    int64
		probe string
	}
	waitFor(t, 20*time.Second, "both probes' results of every added site are stored", func() (bool, string) {
		var k int
		err := e.db.QueryRow(`SELECT count(*) FROM (SELECT DISTINCT website_id, probe FROM website_status WHERE website_id = ANY($1)) d`,
			pqArray(keys(boolSet(added)))).Scan(&k)
		if err != nil {
			return false, err.Error()
		}
		return k == 2*len(added), fmt.Sprintf("%d of %d", k, 2*len(added))
	})
	first := map[sp]time.Time{}
	for _, r := range e.topicMessages(e.topic) {
		res, err := contract.Decode(r.Key, r.Value)
		if err != nil {
			continue
		}
		k := sp{res.WebsiteID, res.Probe}
		if _, ok := added[k.id]; ok {
			if at, seen := first[k]; !seen || r.Timestamp.Before(at) {
				first[k] = r.Timestamp
			}
		}
	}
	var prop []time.Duration
	for k, at := range first {
		prop = append(prop, at.Sub(added[k.id]))
	}
	if len(prop) != 2*len(added) {
		t.Fatalf("%d first results of added sites on the topic, want %d", len(prop), 2*len(added))
	}
	for id := range added {
		all[id] = true
	}
	slices.Sort(prop)
	p99 := prop[(len(prop)*99+99)/100-1]
	t.Logf("site added by SQL → first result of each probe on the topic: p50 %v, p99 %v",
		prop[len(prop)/2].Round(time.Millisecond), p99.Round(time.Millisecond))
	if p99 > 5*time.Second {
		t.Errorf("propagation p99 %v, want under 5 s", p99)
	}

	// kill -9 of a1: its sites are taken over within the bound; the
	// others miss nothing.
	_, off := checkedSince(a[0], 0)
	time.Sleep(2 * time.Second)
	mine, _ := checkedSince(a[0], off)
	killed := time.Now()
	a[0].kill()
	time.Sleep(bound + 3*time.Second)
	until := time.Now().Add(-time.Second)
	waitSlots(t, e, "a", all, until)
	stored := e.slotsStored("a", killed.Add(-2*time.Second), until)
	var worst time.Duration
	var gaps []time.Duration
	for id := range all {
		g := largestGap(stored[id], killed.Add(-2*time.Second), until)
		if mine[id] {
			worst = max(worst, g)
			gaps = append(gaps, g)
		} else if miss := missedSlots(stored, map[int64]bool{id: true}, "a", killed.Add(-2*time.Second), until)[id]; miss > 0 {
			t.Errorf("site %d (not the killed process's) missed %d slots after the kill", id, miss)
		}
	}
	if worst > bound {
		t.Errorf("after kill -9, a site of the killed process went %v without a check, bound %v", worst, bound)
	}
	slices.Sort(gaps)
	gapP99 := gaps[(len(gaps)*99+99)/100-1]
	t.Logf("kill -9: %d sites moved, largest gap %v (p99 %v), bound %v", len(mine), worst, gapP99, bound)

	// Back to three, then a rolling restart with SIGTERM, one at a time.
	a[0] = start("a1b", "a")
	waitFor(t, 30*time.Second, "the new process takes its share", func() (bool, string) {
		s, _ := checkedSince(a[0], 0)
		return len(s) > 0, "no checks yet"
	})
	time.Sleep(2 * time.Second)
	rollFrom := time.Now()
	for i := range a {
		a[i].stop()
		a[i] = start(fmt.Sprintf("a%d-restarted", i+1), "a")
		waitFor(t, 30*time.Second, "the restarted process takes its share", func() (bool, string) {
			s, _ := checkedSince(a[i], 0)
			return len(s) > 0, "no checks yet"
		})
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	rollTo := time.Now().Add(-time.Second)
	waitSlots(t, e, "a", all, rollTo)
	missed := 0
	for id, m := range missedSlots(e.slotsStored("a", rollFrom, rollTo), all, "a", rollFrom, rollTo) {
		missed += m
		t.Errorf("rolling restart: site %d missed %d slots", id, m)
	}
	t.Logf("rolling restart over %v: %d missed slots", rollTo.Sub(rollFrom).Round(time.Second), missed)

	// Probe b, alone, checked every site in every slot from its start.
	bFrom := begin.Add(15 * time.Second)
	waitSlots(t, e, "b", all, rollTo)
	for id, m := range missedSlots(e.slotsStored("b", bFrom, rollTo), all, "b", bFrom, rollTo) {
		t.Errorf("probe b: site %d missed %d slots", id, m)
	}
	var twice int
	if err := e.db.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM website_status
		GROUP BY website_id, probe, timestamp_utc HAVING count(*) > 1) d`).Scan(&twice); err != nil {
		t.Fatal(err)
	}
	if twice != 0 {
		t.Errorf("%d slots stored twice within a probe", twice)
	}
	fmt.Printf("scale: propagation_p99_ms=%d failover_gap_p99_s=%.1f failover_bound_s=%.0f rolling_restart_missed_slots=%d split_balance=%.2f\n",
		p99.Milliseconds(), gapP99.Seconds(), bound.Seconds(), missed, balance)
}

// waitSlots waits until sync stored a check of every site by probe at or
// after at.
func waitSlots(t *testing.T, e *env, probe string, sites map[int64]bool, at time.Time) {
	t.Helper()
	waitFor(t, 20*time.Second, "sync stores the checks up to the window's end", func() (bool, string) {
		var k int
		if err := e.db.QueryRow(`SELECT count(DISTINCT website_id) FROM website_status WHERE probe = $1 AND timestamp_utc >= $2`,
			probe, at).Scan(&k); err != nil {
			return false, err.Error()
		}
		return k == len(sites), fmt.Sprintf("%d of %d sites", k, len(sites))
	})
}
