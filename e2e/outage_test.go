//go:build serial

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestSerialRestartKafkaBeforeCheck starts `sitestat check` while the
// broker is stopped and starts the broker 20 s later
// (SITESTAT_TEST_KAFKA_OUTAGE overrides the length): check must check during
// the outage, say once per backoff step that Kafka is unreachable, and
// deliver every result it made once the broker is back.
func TestSerialRestartKafkaBeforeCheck(t *testing.T) {
	services := testenv.Var(t, "SITESTAT_TEST_SERVICES")
	outage := 20 * time.Second
	if v := os.Getenv("SITESTAT_TEST_KAFKA_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			t.Fatalf("SITESTAT_TEST_KAFKA_OUTAGE=%q: want a duration of at least 1s", v)
		}
		outage = d
	}
	e := newEnv(t) // the topics exist before the broker stops
	tg := newTargets(t)
	const nSites = 5
	for i := range nSites {
		e.addSite(tg.url(fmt.Sprintf("/ok?site=%d", i)), 1, "")
	}

	// Stop the broker for the outage; the script starts it again and returns
	// when it answers. Whatever happens, the test waits for it to end, so the
	// services are left running.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	restart := exec.CommandContext(ctx, services, "restart", "kafka")
	restart.Env = append(os.Environ(), fmt.Sprintf("SITESTAT_SERVICES_KAFKA_DOWN_FOR=%d", int(outage.Round(time.Second).Seconds())))
	var restartOut bytes.Buffer
	restart.Stdout, restart.Stderr = &restartOut, &restartOut
	if err := restart.Start(); err != nil {
		t.Fatalf("%s restart kafka: %v", services, err)
	}
	restartDone := make(chan error, 1)
	go func() { restartDone <- restart.Wait() }()
	var restartErr error
	restarted := false
	waitRestart := func() {
		if !restarted {
			restartErr, restarted = <-restartDone, true
		}
	}
	t.Cleanup(waitRestart)

	waitFor(t, 90*time.Second, "the broker to stop", func() (bool, string) {
		c, err := net.DialTimeout("tcp", e.brokers[0], time.Second)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, "it still accepts connections"
	})
	down := time.Now()
	check := e.start("check", nil, "check")

	waitRestart()
	if restartErr != nil {
		t.Fatalf("%s restart kafka: %v\n%s", services, restartErr, restartOut.String())
	}
	up := time.Now()
	t.Logf("check started with the broker stopped; the broker answered again %s later", up.Sub(down).Round(time.Millisecond))
	if up.Sub(down) < outage {
		t.Fatalf("the broker was down %v, less than the %v asked for: does %s know SITESTAT_SERVICES_KAFKA_DOWN_FOR?\n%s",
			up.Sub(down).Round(time.Millisecond), outage, services, restartOut.String())
	}

	waitFor(t, 90*time.Second, "check to connect to the broker", func() (bool, string) {
		return len(logLines(check.output(), "kafka producer connected")) > 0, "no 'kafka producer connected' line yet"
	})
	check.stop()

	out := check.output()
	var retryIn []time.Duration
	for _, l := range logLines(out, "kafka unreachable; results wait in the buffer") {
		d, err := time.ParseDuration(l["retry_in"])
		if err != nil {
			t.Fatalf("unreachable line without a retry_in: %v", l)
		}
		retryIn = append(retryIn, d)
	}
	// Once per backoff step: each wait doubles the one before, up to a cap.
	if len(retryIn) < 2 {
		t.Errorf("%d 'kafka unreachable' lines during a %v outage, want one per backoff step (at least 2)", len(retryIn), outage)
	}
	if len(retryIn) > 0 {
		longest := slices.Max(retryIn)
		for i := 1; i < len(retryIn); i++ {
			if retryIn[i] != min(2*retryIn[i-1], longest) {
				t.Errorf("retry_in of the unreachable lines %v: want one line per backoff step (each wait double the last, up to a cap)", retryIn)
				break
			}
		}
	}

	stopped := logLines(out, "stopped")
	if len(stopped) != 1 {
		t.Fatalf("%d 'stopped' lines, want 1", len(stopped))
	}
	num := func(k string) int {
		v, err := strconv.Atoi(stopped[0][k])
		if err != nil {
			t.Fatalf("stopped line without %s: %v", k, stopped[0])
		}
		return v
	}
	published, dropped, pending := num("published"), num("dropped"), num("pending")

	byID, valid, bad := e.produced()
	during := 0
	for _, r := range byID {
		if r.CheckedAt.Before(up) {
			during++
		}
	}
	t.Logf("published %d, dropped %d; on the topic %d distinct results (%d messages, %d bad), %d checked before the broker was back",
		published, dropped, len(byID), valid, bad, during)
	if dropped != 0 || pending != 0 {
		t.Errorf("dropped=%d pending=%d at stop, want 0 (the buffer holds 100000)", dropped, pending)
	}
	if len(byID) != published || bad != 0 {
		t.Errorf("%d distinct results on the topic (%d bad), want every one of the %d published", len(byID), bad, published)
	}
	// Each site is checked every second: the outage (the time the broker took
	// to start again included) must have given at least half as many checks.
	if want := nSites * int(up.Sub(down).Seconds()) / 2; during < want {
		t.Errorf("%d results checked while the broker was down, want at least %d (%d sites every 1 s for %v)",
			during, want, nSites, up.Sub(down).Round(time.Second))
	}
}

// logAttr is one key=value of a text log line; a quoted value may hold spaces.
var logAttr = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// logLines returns the attributes of the text log lines of out whose msg is msg.
func logLines(out, msg string) []map[string]string {
	var lines []map[string]string
	for _, l := range strings.Split(out, "\n") {
		attrs := map[string]string{}
		for _, m := range logAttr.FindAllStringSubmatch(l, -1) {
			v := m[2]
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			attrs[m[1]] = v
		}
		if attrs["msg"] == msg {
			lines = append(lines, attrs)
		}
	}
	return lines
}
