//go:build serial

package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}
