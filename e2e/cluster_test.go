//go:build serial

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// protocolHint is the explanation of a port whose protocol does not match
// the client's: wrong for a broker that worked and went away (issue 18).
var protocolHint = []string{"protocol does not match", "SITESTAT_KAFKA_CA_FILE"}

// TestSerialBrokerRestarts runs check and sync against the three-broker
// cluster of `scripts/services up --brokers 3` (replication 3,
// min.insync.replicas 2, as on Aiven) through a kill -9 of a broker, its
// return, and a rolling restart (SIGTERM, one at a time) of the other two:
// every result the checker had acknowledged is stored exactly once, no site
// misses a second, and neither log gives the protocol hint.
func TestSerialBrokerRestarts(t *testing.T) {
	services := testenv.Var(t, "SITESTAT_TEST_SERVICES")
	e := newEnvOn(t, strings.Split(testenv.Var(t, "SITESTAT_TEST_KAFKA_CLUSTER"), ","))
	began := time.Now()
	tg := newTargets(t)
	const nSites = 20
	sites := map[int64]bool{}
	for i := range nSites {
		sites[e.addSite(tg.url(fmt.Sprintf("/ok?site=%d", i)), 1, "")] = true
	}
	check := e.start("check", nil, "check")
	sync := e.start("sync", nil, "sync")
	e.waitGrowth("rows before the first fault", 2*nSites)
	from := time.Now()

	cluster := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		t0 := time.Now()
		if out, err := exec.CommandContext(ctx, services, append([]string{"cluster"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s cluster %s: %v\n%s", services, strings.Join(args, " "), err, out)
		}
		t.Logf("cluster %s: %s", strings.Join(args, " "), time.Since(t0).Round(time.Millisecond))
	}
	cluster("kill", "1")
	e.waitGrowth("rows with broker 1 killed", 3*nSites)
	cluster("start", "1")
	e.waitGrowth("rows after broker 1 returned", 2*nSites)
	for _, n := range []string{"2", "3"} {
		cluster("restart", n)
		e.waitGrowth("rows after restarting broker "+n, 2*nSites)
	}
	to := time.Now().Add(-time.Second)

	check.stop()
	c := e.waitSynced(60 * time.Second)
	sync.stop()
	if c.dups != 0 || c.lost != 0 || c.rows != c.checks {
		t.Errorf("after the broker faults: %+v (want nothing lost, no duplicate, rows == checks)", c)
	}
	missed := 0
	for id, m := range missedSlots(e.slotsStored("e2e-1", from, to), sites, "e2e-1", from, to) {
		missed += m
		t.Errorf("site %d missed %d of its 1 s slots during the broker faults", id, m)
	}
	for _, p := range []*proc{check, sync} {
		assertNoProtocolHint(t, p)
	}
	took := time.Since(began)
	t.Logf("broker restarts: %d checks stored once over %v of faults, %d missed slots, %v in all",
		c.rows, to.Sub(from).Round(time.Second), missed, took.Round(time.Second))
	if took > 2*time.Minute {
		t.Errorf("the test took %v, want under 2 minutes", took.Round(time.Second))
	}
	c.sites, c.faults = nSites, 4
	record(t, c)
}

// assertNoProtocolHint fails the test when p's log gives the protocol hint.
func assertNoProtocolHint(t *testing.T, p *proc) {
	t.Helper()
	wentAway, sample := 0, ""
	for _, l := range strings.Split(p.output(), "\n") {
		if strings.Contains(l, "went away") {
			wentAway++
			sample = cmp.Or(sample, l)
		}
		for _, h := range protocolHint {
			if strings.Contains(l, h) {
				t.Errorf("%s logged the protocol hint for a broker that worked:\n%s", p.name, l)
				break
			}
		}
	}
	t.Logf("%s: %d log lines say a broker went away; the first: %s", p.name, wentAway, sample)
}
