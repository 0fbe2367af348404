//go:build serial

package sink_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/sink"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// The environment of TestHelperSyncProcess.
const (
	helperEnv      = "SITESTAT_SINK_HELPER"
	helperBrokers  = "SITESTAT_SINK_HELPER_BROKERS"
	helperDB       = "SITESTAT_SINK_HELPER_DATABASE_URL"
	helperTopic    = "SITESTAT_SINK_HELPER_TOPIC"
	helperDLQTopic = "SITESTAT_SINK_HELPER_DLQ_TOPIC"
	helperGroup    = "SITESTAT_SINK_HELPER_GROUP"
	helperStatsOut = "SITESTAT_SINK_HELPER_STATS"
)

// TestHelperSyncProcess is not a test: it is the sync process that
// TestSerialCrashRestart starts and kills. It runs a Sync until SIGTERM and
// writes its Stats as JSON to $SITESTAT_SINK_HELPER_STATS.
func TestHelperSyncProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the sync process of TestSerialCrashRestart")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	brokers := strings.Split(os.Getenv(helperBrokers), ",")
	topic := os.Getenv(helperTopic)
	db, err := store.Open(ctx, os.Getenv(helperDB), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts := kafka.Options{Brokers: brokers}
	c, err := kafka.NewConsumer(opts, kafka.ConsumerOptions{Group: os.Getenv(helperGroup), Topics: []string{topic},
		Batch: 500, Flush: 50 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	dlq, err := deadletter.NewWriter(opts, os.Getenv(helperDLQTopic), log)
	if err != nil {
		t.Fatalf("dead-letter writer: %v", err)
	}
	defer dlq.Close()
	s := sink.New(schema.SyncDB{DB: db}, dlq, sink.Options{Logger: log})
	runErr := s.Run(ctx, c)
	c.Close()
	b, _ := json.Marshal(s.Stats())
	if err := os.WriteFile(os.Getenv(helperStatsOut), b, 0o644); err != nil {
		t.Errorf("write stats: %v", err)
	}
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
}

// helper is one started TestHelperSyncProcess.
type helper struct {
	cmd   *exec.Cmd
	log   string
	stats string
}

func (e *env) startHelper(group string, n int) *helper {
	e.t.Helper()
	dir := e.t.TempDir()
	h := &helper{log: filepath.Join(dir, "sync.log"), stats: filepath.Join(dir, "stats.json")}
	logf, err := os.Create(h.log)
	if err != nil {
		e.t.Fatal(err)
	}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperSyncProcess$", "-test.count=1")
	h.cmd.Env = append(os.Environ(),
		helperEnv+"=1",
		helperBrokers+"="+strings.Join(e.opts.Brokers, ","),
		helperDB+"="+e.dbURL,
		helperTopic+"="+e.topic,
		helperDLQTopic+"="+e.dlqTopic,
		helperGroup+"="+group,
		helperStatsOut+"="+h.stats,
	)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		e.t.Fatalf("start sync process %d: %v", n, err)
	}
	e.t.Cleanup(func() {
		logf.Close()
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
			_ = h.cmd.Wait()
		}
		if e.t.Failed() {
			b, _ := os.ReadFile(h.log)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			e.t.Logf("sync process %d, last lines:\n%s", n, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	return h
}

// TestSerialCrashRestart: a sync process killed with SIGKILL at several
// points of a 50,000-message stream, then restarted, loses nothing and
// stores nothing twice; results repeated on purpose are stored once too.
func TestSerialCrashRestart(t *testing.T) {
	e := newEnv(t, 3)
	sites := e.addSites(10)
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	const unique, repeats = 50000, 1000
	ids := make(map[string]bool, unique)
	rs := make([]contract.Result, 0, unique+repeats)
	for range unique {
		r := randomResult(rng, sites[rng.IntN(len(sites))])
		ids[r.CheckID] = true
		rs = append(rs, r)
	}
	for range repeats {
		rs = append(rs, rs[rng.IntN(unique)])
	}
	rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	e.produceResults(rs)

	group := testenv.Name("group")
	for i, at := range []int{5000, 20000, 35000} {
		h := e.startHelper(group, i+1)
		deadline := time.Now().Add(120 * time.Second)
		for e.count() < at {
			if time.Now().After(deadline) {
				t.Fatalf("sync process %d: %d rows within 120s, want %d", i+1, e.count(), at)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = h.cmd.Wait()
		n := e.count()
		t.Logf("sync process %d killed at %d rows", i+1, n)
		if n >= unique {
			t.Fatalf("sync process %d was killed after storing everything; the test proves nothing", i+1)
		}
	}
	h := e.startHelper(group, 4)
	e.waitRows(unique, 180*time.Second)
	e.assertExactlyOnce(ids)
	testenv.Eventually(t, 30*time.Second, func() bool {
		for _, l := range e.lag(group) {
			if l != 0 {
				return false
			}
		}
		return true
	}, "the group committed every partition to the end")
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("last sync process: %v (want exit 0 on SIGTERM)", err)
	}
	b, err := os.ReadFile(h.stats)
	if err != nil {
		t.Fatalf("stats of the last sync process: %v", err)
	}
	t.Logf("last sync process stats: %s", b)
	var dups int
	if err := e.sql.QueryRow("SELECT count(*) - count(DISTINCT check_id) FROM website_status").Scan(&dups); err != nil || dups != 0 {
		t.Errorf("duplicates = %d (%v), want 0", dups, err)
	}
}

// TestSerialRestartPostgres: PostgreSQL restarts under a running sync fed a
// steady stream; sync waits, does not exit, and afterwards every result is
// stored once.
func TestSerialRestartPostgres(t *testing.T) {
	services := testenv.Var(t, "SITESTAT_TEST_SERVICES")
	e := newEnv(t, 2)
	site := e.addSites(1)[0]
	group := testenv.Name("group")
	run := e.start(group, syncOptions{consumer: kafka.ConsumerOptions{Flush: 50 * time.Millisecond}, sink: sink.Options{RetryMax: time.Second}})

	var (
		mu      sync.Mutex
		ids     = map[string]bool{}
		prodErr error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var msgs []kafka.Record
			mu.Lock()
			for range 10 {
				r := validResult(site)
				ids[r.CheckID] = true
				msgs = append(msgs, e.resultMessage(r))
			}
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := kafka.Produce(ctx, e.opts, msgs)
			cancel()
			if err != nil {
				mu.Lock()
				prodErr = err
				mu.Unlock()
				return
			}
		}
	})
	testenv.Eventually(t, 30*time.Second, func() bool { return e.count() > 100 }, "rows stored before the restart")

	start := time.Now()
	out, err := exec.Command(services, "restart", "pg").CombinedOutput()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("restart pg: %v\n%s", err, out)
	}
	t.Logf("PostgreSQL restarted in %v", time.Since(start))
	time.Sleep(time.Second) // keep the stream going after the restart
	close(stop)
	wg.Wait()
	if prodErr != nil {
		t.Fatalf("produce: %v", prodErr)
	}
	e.waitRows(len(ids), 60*time.Second)
	e.assertExactlyOnce(ids)
	select {
	case err := <-run.done:
		run.done <- err
		t.Fatalf("Run exited during the PostgreSQL restart: %v", err)
	default:
	}
	if st := run.s.Stats(); st.Retries == 0 {
		t.Errorf("stats = %+v: no retries, so the restart went unnoticed and the test proves nothing", st)
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
