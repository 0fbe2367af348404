//go:build serial

package kafka

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// testLog writes slog output to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestSerialRestartBrokerUnderProducer publishes continuously while the
// broker restarts, then checks that every published check id is on the topic
// (duplicates allowed: re-sent results may be stored twice).
func TestSerialRestartBrokerUnderProducer(t *testing.T) {
	services := testenv.Var(t, "SITESTAT_TEST_SERVICES")
	opts := plainOpts(t)
	topic := newTopic(t, opts, 3)
	logger := slog.New(slog.NewTextHandler(testLog{t}, nil))
	p, err := NewProducer(testCtx(t, 30*time.Second), opts, ProducerOptions{Topic: topic}, logger)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	defer p.Close(context.Background())

	var (
		mu        sync.Mutex
		published []string
		stop      = make(chan struct{})
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			r := testResult(i%20 + 1)
			publish(p, r)
			mu.Lock()
			published = append(published, r.CheckID)
			mu.Unlock()
		}
	}()

	time.Sleep(time.Second) // publish against a healthy broker first
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, services, "restart", "kafka").CombinedOutput()
	if err != nil {
		close(stop)
		<-done
		t.Fatalf("%s restart kafka: %v\n%s", services, err, out)
	}
	outage := time.Since(start)
	t.Logf("broker restarted in %v", outage.Round(time.Millisecond))
	time.Sleep(2 * time.Second) // keep publishing after the broker is back
	close(stop)
	<-done

	flushStart := time.Now()
	if err := p.Flush(testCtx(t, 2*time.Minute)); err != nil {
		t.Fatalf("Flush after the restart: %v (stats %+v)", err, p.Stats())
	}
	s := p.Stats()
	t.Logf("flushed in %v; stats %+v", time.Since(flushStart).Round(time.Millisecond), s)
	if s.Dropped != 0 || s.Pending != 0 {
		t.Errorf("stats %+v: want nothing dropped or pending", s)
	}
	// sarama's own retries last about 6 s; a longer outage must have gone
	// through the Producer's re-send path.
	if outage > 10*time.Second && s.Failed == 0 {
		t.Errorf("stats %+v: a %v outage caused no failed send, so the re-send path was not exercised", s, outage)
	}

	mu.Lock()
	want := append([]string(nil), published...)
	mu.Unlock()
	msgs := readTopic(t, opts, topic, len(want))
	onTopic := map[string]int{}
	for _, m := range msgs {
		r, err := contract.Decode(m.Key, m.Value)
		if err != nil {
			t.Fatalf("offset %d/%d: %v", m.Partition, m.Offset, err)
		}
		onTopic[r.CheckID]++
	}
	missing, dups := 0, 0
	for _, id := range want {
		if onTopic[id] == 0 {
			missing++
		}
	}
	for _, n := range onTopic {
		dups += n - 1
	}
	t.Logf("published %d, on the topic %d messages (%d duplicates)", len(want), len(msgs), dups)
	if missing > 0 {
		t.Errorf("%d of %d published check ids are not on the topic", missing, len(want))
	}
}
