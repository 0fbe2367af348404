// Command benchtool is the Go side of scripts/bench: it measures the real
// sitestat binary (sync, check, status) against reference implementations
// and prints the figures. It is driven by scripts/bench, which starts the
// services and builds both programs; run `scripts/bench` rather than this.
//
//	benchtool sync   -bin SITESTAT           sync vs raw COPY vs one INSERT per row
//	benchtool check  -bin SITESTAT           checks/s, lag, RSS, CPU per check vs a bare GET loop
//	benchtool status -bin SITESTAT           wall time of sitestat status over 1.44 M rows
//	benchtool serve  -bin SITESTAT           p99 of sitestat serve's pages, badges and API over 10,000 sites
//	benchtool alerts -bin SITESTAT           alert latency p99 over 100+ outages on 1,000 sites
//	benchtool target -listen A,B,...         the local target websites (a separate process)
//	benchtool bareloop -urls FILE            a bare Go GET loop with fresh connections
//
// Each benchmark creates its own databases (from SITESTAT_TEST_ADMIN_DATABASE_URL)
// and topics (on SITESTAT_TEST_KAFKA_PLAINTEXT) and removes them when it ends,
// also on SIGINT/SIGTERM.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/testenv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool sync|check|status|history|serve|alerts|target|bareloop [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "sync":
		err = runSync(ctx, args)
	case "check":
		err = runCheck(ctx, args)
	case "status":
		err = runStatus(ctx, args)
	case "history":
		err = runHistory(ctx, args)
	case "serve":
		err = runServe(ctx, args)
	case "alerts":
		err = runAlerts(ctx, args)
	case "target":
		err = runTarget(ctx, args)
	case "bareloop":
		err = runBareLoop(ctx, args)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func mustEnv(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set (eval \"$(scripts/services env test)\")", name)
	}
	return v, nil
}

// cleanups runs registered functions in reverse order, once.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// newDatabase creates a fresh database and returns its URL; the cleanup drops it.
func newDatabase(ctx context.Context, cl *cleanups, prefix string) (string, error) {
	admin, err := mustEnv("SITESTAT_TEST_ADMIN_DATABASE_URL")
	if err != nil {
		return "", err
	}
	name := testenv.Name(prefix)
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	cl.add(func() { dropDatabase(admin, name) })
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// dropDatabase drops the database, retrying for up to 60 s (PostgreSQL may
// be restarting under another test).
func dropDatabase(admin, name string) {
	db, err := sql.Open("postgres", admin)
	if err != nil {
		logf("drop database %s: %v", name, err)
		return
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := db.ExecContext(c, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logf("drop database %s: %v", name, err)
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// sitestatEnv is the environment for a sitestat process.
func sitestatEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITESTAT_") || strings.HasPrefix(kv, "SITESTAT_TEST_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runSitestat runs the binary to completion, returning its combined output.
func runSitestat(ctx context.Context, bin string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sitestat %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// migrate creates the schema in dbURL with the real binary.
func migrate(ctx context.Context, bin, dbURL string) error {
	return runSitestat(ctx, bin, sitestatEnv("SITESTAT_DATABASE_URL="+dbURL), "migrate")
}

// procStat is what /proc/PID says about a process.
type procStat struct {
	CPU   time.Duration // utime + stime
	HWMKB int64         // VmHWM, peak resident set
	RSSKB int64         // VmRSS
}

func readProc(pid int) (procStat, error) {
	var ps procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const hz = 100                           // USER_HZ on Linux
	ps.CPU = time.Duration(ut+st) * time.Second / hz
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			name string
			dst  *int64
		}{{"VmHWM:", &ps.HWMKB}, {"VmRSS:", &ps.RSSKB}} {
			if strings.HasPrefix(line, k.name) {
				fs := strings.Fields(line)
				if len(fs) >= 2 {
					*k.dst, _ = strconv.ParseInt(fs[1], 10, 64)
				}
			}
		}
	}
	return ps, nil
}

// scrape reads the Prometheus text at addr and returns the unlabelled samples.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err == nil {
			out[f[0]] = v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, sc.Err()
}

// stopProcess sends SIGTERM, waits up to grace, then kills.
func stopProcess(cmd *exec.Cmd, done <-chan error, grace time.Duration) error {
	if cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", cmd.Path, grace)
	}
}

// startProcess starts cmd and returns a channel that gets its Wait result.
func startProcess(cmd *exec.Cmd) (<-chan error, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done, nil
}

// deleteTopics deletes topics, retrying for up to 30 s (the broker may be
// restarting under another test).
func deleteTopics(kopts kafka.Options, names ...string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := kafka.DeleteTopics(c, kopts, names)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logf("delete topics %v: %v", names, err)
			return
		}
		time.Sleep(2 * time.Second)
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
