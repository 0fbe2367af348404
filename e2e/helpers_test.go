//go:build serial

package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/target"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// bin is the sitestat binary TestMain builds.
var bin string

// figures accumulates what the scenarios produced and stored, for the line
// TestMain prints.
var figures struct {
	mu                                         sync.Mutex
	ran                                        bool
	sites, checks, rows, lost, dups, dlq, faul int
}

// tally is one scenario's contribution to the figures.
type tally struct {
	sites, checks, rows, lost, dups, dlq, faults int
}

func record(t *testing.T, c tally) {
	t.Helper()
	t.Logf("figures: sites=%d checks=%d rows=%d lost=%d duplicates=%d dlq=%d faults=%d",
		c.sites, c.checks, c.rows, c.lost, c.dups, c.dlq, c.faults)
	figures.mu.Lock()
	defer figures.mu.Unlock()
	figures.ran = true
	figures.sites += c.sites
	figures.checks += c.checks
	figures.rows += c.rows
	figures.lost += c.lost
	figures.dups += c.dups
	figures.dlq += c.dlq
	figures.faul += c.faults
}

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv("SITESTAT_TEST_KAFKA_PLAINTEXT") == "" && os.Getenv("CI") == "" {
			return m.Run() // every test skips
		}
		dir, err := os.MkdirTemp("", "sitestat-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "sitestat")
		build := exec.Command("go", "build", "-o", bin, "github.com/sitestat/sitestat")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build sitestat: %v\n%s", err, out)
			return 1
		}
		code := m.Run()
		figures.mu.Lock()
		defer figures.mu.Unlock()
		if !figures.ran {
			return code
		}
		f := &figures
		fmt.Printf("e2e: sites=%d checks=%d rows=%d lost=%d duplicates=%d dlq=%d faults=%d\n",
			f.sites, f.checks, f.rows, f.lost, f.dups, f.dlq, f.faul)
		if f.lost != 0 || f.dups != 0 {
			fmt.Println("e2e: FAIL: lost and duplicates must both be 0")
			return 1
		}
		return code
	}()
	os.Exit(code)
}

// env is one test's own database, topics and consumer group.
type env struct {
	t       *testing.T
	dbURL   string
	topic   string
	group   string
	brokers []string
	db      *sql.DB
	extra   []string // more KEY=VALUE for every process

	checks *checkClaims
}

// checkClaims are the check processes of an env: how many started (for
// their probe names) and what those that ended reported as delivered.
type checkClaims struct {
	mu     sync.Mutex
	n      int
	claims []claim
}

// claim is what one check process said at its end: it handed published
// results to the producer, dropped some and left some pending; the rest
// the broker acknowledged, so they must be on the topic.
type claim struct {
	probe                       string
	published, dropped, pending int
}

// checkArgs gives each check process its own probe name, so the results on
// the topic can be matched to the process that claims them.
func (e *env) checkArgs(extra []string, args []string) []string {
	if len(args) == 0 || args[0] != "check" {
		return extra
	}
	if slices.ContainsFunc(extra, func(kv string) bool { return strings.HasPrefix(kv, "SITESTAT_PROBE=") }) {
		return extra // processes sharing a probe (the scale tests)
	}
	e.checks.mu.Lock()
	defer e.checks.mu.Unlock()
	e.checks.n++
	return append(slices.Clone(extra), fmt.Sprintf("SITESTAT_PROBE=e2e-%d", e.checks.n))
}

// noteClaim records the final "stopped" line of a check process's log.
func (e *env) noteClaim(env []string, log string) {
	probe := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SITESTAT_PROBE="); ok {
			probe = v
		}
	}
	var c claim
	found := false
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "msg=stopped") {
			continue
		}
		c, found = claim{probe: probe}, true
		for _, f := range strings.Fields(l) {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "published":
				c.published = n
			case "dropped":
				c.dropped = n
			case "pending":
				c.pending = n
			}
		}
	}
	if !found {
		e.t.Errorf("check process %s ended without its final stopped line", probe)
		return
	}
	e.checks.mu.Lock()
	defer e.checks.mu.Unlock()
	e.checks.claims = append(e.checks.claims, c)
}

// checkerLost returns how many results the check processes that ended
// reported as acknowledged but the topic does not hold.
func (e *env) checkerLost() int {
	e.t.Helper()
	byID, _, _ := e.produced()
	onTopic := map[string]int{}
	for _, r := range byID {
		onTopic[r.Probe]++
	}
	e.checks.mu.Lock()
	defer e.checks.mu.Unlock()
	lost := 0
	for _, c := range e.checks.claims {
		if acked := c.published - c.dropped - c.pending; acked > onTopic[c.probe] {
			e.t.Errorf("check %s: %d results acknowledged, %d on the topic", c.probe, acked, onTopic[c.probe])
			lost += acked - onTopic[c.probe]
		}
	}
	return lost
}

// newEnv makes a fresh database migrated by the binary and fresh topics
// created by the binary, on the single test broker.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, testenv.Brokers(t))
}

// newEnvOn is newEnv on the Kafka cluster at brokers.
func newEnvOn(t *testing.T, brokers []string) *env {
	t.Helper()
	e := &env{
		t:       t,
		dbURL:   testenv.NewDatabase(t),
		topic:   testenv.Name("e2e"),
		group:   testenv.Name("e2e_sync"),
		brokers: brokers,
		checks:  &checkClaims{},
	}
	e.mustRun(nil, "migrate")
	e.mustRun(nil, "topics", "create", "--partitions", "3")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = kafka.DeleteTopics(ctx, e.kopts(), []string{e.topic, e.topic + ".dlq", e.topic + ".heartbeats", e.topic + ".sites"})
	})
	e.db = testenv.OpenDB(t, e.dbURL)
	return e
}

func (e *env) kopts() kafka.Options { return kafka.Options{Brokers: e.brokers} }

// environ is the explicit environment of a sitestat process: the parent's
// without any SITESTAT_ variable, then the test's settings, then extra.
func (e *env) environ(extra []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITESTAT_") {
			out = append(out, kv)
		}
	}
	out = append(out,
		"SITESTAT_DATABASE_URL="+e.dbURL,
		"SITESTAT_KAFKA_BROKERS="+strings.Join(e.brokers, ","),
		"SITESTAT_KAFKA_TOPIC="+e.topic,
		"SITESTAT_SYNC_GROUP="+e.group,
		"SITESTAT_CHECK_REFRESH=1s",
		"SITESTAT_CHECK_TIMEOUT=1s",
		"SITESTAT_SYNC_FLUSH=100ms",
		"SITESTAT_LOG_LEVEL=info",
		"SITESTAT_PROBE=e2e",
		"SITESTAT_SHUTDOWN_TIMEOUT=15s",
	)
	out = append(out, e.extra...)
	return append(out, extra...)
}

// run runs the binary to its end and returns stdout, stderr and the exit code.
func (e *env) run(extra []string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.environ(e.checkArgs(extra, args))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if args[0] == "check" && err == nil {
		e.noteClaim(cmd.Env, stderr.String())
	}
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			e.t.Fatalf("sitestat %s: %v", strings.Join(args, " "), err)
		}
	}
	return stdout.String(), stderr.String(), code
}

// mustRun runs the binary and fails the test unless it exits 0.
func (e *env) mustRun(extra []string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(extra, args...)
	if code != 0 {
		e.t.Fatalf("sitestat %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// proc is a long-running sitestat process.
type proc struct {
	t    *testing.T
	e    *env
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	code int
}

// start starts `sitestat args...`; its output goes to a file shown when the
// test fails. The process is killed when the test ends, if still running.
func (e *env) start(name string, extra []string, args ...string) *proc {
	t := e.t
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = e.environ(e.checkArgs(extra, args))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sitestat %s: %v", strings.Join(args, " "), err)
	}
	p := &proc{t: t, e: e, name: name, cmd: cmd, log: f.Name(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			p.dump()
		}
	})
	return p
}

func (p *proc) dump() {
	b, _ := os.ReadFile(p.log)
	if len(b) > 12000 {
		b = append([]byte("…"), b[len(b)-12000:]...)
	}
	p.t.Logf("--- %s (pid %d) output:\n%s", p.name, p.cmd.Process.Pid, b)
}

// output returns what the process wrote so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.dump()
		p.t.Fatalf("%s did not exit within %s", p.name, timeout)
		return -1
	}
}

// stop sends SIGTERM and asserts a graceful exit 0.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(40 * time.Second); code != 0 {
		p.dump()
		p.t.Fatalf("%s: exit %d after SIGTERM, want 0", p.name, code)
	}
	if p.cmd.Args[1] == "check" {
		p.e.noteClaim(p.cmd.Env, p.output())
	}
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
}

// targets are the local websites the tests check.
type targets struct {
	plain  *httptest.Server
	tls    *httptest.Server
	closed string // an http:// URL where nothing listens
}

func newTargets(t *testing.T) *targets {
	t.Helper()
	tls := httptest.NewUnstartedServer(target.Handler())
	tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	tls.StartTLS()
	tg := &targets{plain: httptest.NewServer(target.Handler()), tls: tls}
	t.Cleanup(tg.plain.Close)
	t.Cleanup(tg.tls.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.closed = "http://" + l.Addr().String() + "/"
	l.Close()
	return tg
}

func (tg *targets) url(path string) string { return tg.plain.URL + path }

// addSite writes a website straight into the table (no validation) and
// returns its id.
func (e *env) addSite(url string, interval int, regex string) int64 {
	e.t.Helper()
	var re any
	if regex != "" {
		re = regex
	}
	var id int64
	err := e.db.QueryRow(`INSERT INTO websites (url, check_interval, up_regex) VALUES ($1, $2, $3) RETURNING id`,
		url, interval, re).Scan(&id)
	if err != nil {
		e.t.Fatalf("insert website %s: %v", url, err)
	}
	return id
}

// addSiteCLI adds a website with `sitestat sites add` and returns its id.
func (e *env) addSiteCLI(url string, args ...string) int64 {
	e.t.Helper()
	out := e.mustRun(nil, append([]string{"sites", "add", url}, args...)...)
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		e.t.Fatalf("sites add printed %q, want an id", out)
	}
	return id
}

// row is one row of website_status.
type row struct {
	checkID    string
	websiteID  int64
	ts         time.Time
	info       string
	up         bool
	reason     string
	statusCode sql.NullInt64
	respMs     sql.NullFloat64
	result     contract.Result // request_info decoded
}

// rows reads website_status, oldest first; an error (e.g. during a
// PostgreSQL restart) returns nil and false.
func (e *env) rows(where string, args ...any) ([]row, bool) {
	q := `SELECT check_id::text, website_id, timestamp_utc, request_info::text, up, reason, status_code, response_time_ms
		FROM website_status ` + where + ` ORDER BY timestamp_utc, check_id`
	rs, err := e.db.Query(q, args...)
	if err != nil {
		return nil, false
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.checkID, &r.websiteID, &r.ts, &r.info, &r.up, &r.reason, &r.statusCode, &r.respMs); err != nil {
			return nil, false
		}
		if err := json.Unmarshal([]byte(r.info), &r.result); err != nil {
			e.t.Errorf("row %s: request_info is not a Result: %v", r.checkID, err)
		}
		out = append(out, r)
	}
	return out, rs.Err() == nil
}

// count runs a COUNT query; -1 on error.
func (e *env) count(where string, args ...any) int {
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM website_status `+where, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// topicMessages reads every message of the results topic.
func (e *env) topicMessages(topic string) []kafka.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs, err := kafka.ReadAll(ctx, e.kopts(), topic, 0)
	if err != nil {
		e.t.Fatalf("read %s: %v", topic, err)
	}
	return msgs
}

// produced decodes the results topic: valid results by check id, how many
// valid messages there were, and how many did not decode.
func (e *env) produced() (byID map[string]contract.Result, valid, bad int) {
	e.t.Helper()
	byID = map[string]contract.Result{}
	for _, m := range e.topicMessages(e.topic) {
		r, err := contract.Decode(m.Key, m.Value)
		if err != nil {
			bad++
			continue
		}
		valid++
		byID[r.CheckID] = r
	}
	return byID, valid, bad
}

// deadLetters reads the dead-letter topic.
func (e *env) deadLetters() []deadletter.Letter {
	e.t.Helper()
	var out []deadletter.Letter
	for _, m := range e.topicMessages(e.topic + ".dlq") {
		out = append(out, deadletter.Parse(m))
	}
	return out
}

// waitSynced waits until website_status holds exactly the check ids on the
// topic (of the sites still in the websites table) and returns the
// accounting.
func (e *env) waitSynced(timeout time.Duration) tally {
	e.t.Helper()
	var c tally
	waitFor(e.t, timeout, "website_status holds every check on the topic", func() (bool, string) {
		byID, _, _ := e.produced()
		rows, ok := e.rows("")
		if !ok {
			return false, "cannot read rows"
		}
		c = account(byID, rows)
		return c.lost == 0 && c.rows == c.checks, fmt.Sprintf("%+v", c)
	})
	c.lost += e.checkerLost()
	return c
}

// waitGrowth waits until website_status holds by more rows than when it
// was first counted.
func (e *env) waitGrowth(what string, by int) {
	e.t.Helper()
	base := -1
	waitFor(e.t, 90*time.Second, what, func() (bool, string) {
		n := e.count("")
		if n < 0 {
			return false, "cannot count rows"
		}
		if base < 0 {
			base = n
		}
		return n >= base+by, fmt.Sprintf("%d rows, from %d", n, base)
	})
}

// waitFor calls cond every 100ms until it returns true, and fails the test
// with cond's last explanation when timeout passes first.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s (last: %s)", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// account compares the checks on the topic with the rows stored: a check
// not stored is lost; two rows of one site and probe at one checked_at are
// a duplicate (whatever their check ids).
func account(byID map[string]contract.Result, rows []row) tally {
	c := tally{checks: len(byID), rows: len(rows)}
	stored := map[string]bool{}
	type slot struct {
		site  int64
		probe string
		at    time.Time
	}
	slots := map[slot]bool{}
	for _, r := range rows {
		stored[r.checkID] = true
		slots[slot{r.websiteID, r.result.Probe, r.ts.UTC()}] = true
	}
	c.dups = len(rows) - len(slots)
	for id := range byID {
		if !stored[id] {
			c.lost++
		}
	}
	return c
}

// newResult is a valid result of site, as a checker would produce it.
func newResult(site int64) contract.Result { return fixture.Result(site) }

// produce sends raw messages to topic and waits for the acks.
func (e *env) produce(msgs ...kafka.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafka.Produce(ctx, e.kopts(), msgs); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// resultMessage is r as a message of the results topic.
func (e *env) resultMessage(r contract.Result) kafka.Record {
	e.t.Helper()
	return fixture.Record(e.t, e.topic, r)
}
