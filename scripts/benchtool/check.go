package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sitestat/sitestat/internal/target"
	"github.com/sitestat/sitestat/internal/testenv"
	"github.com/sitestat/sitestat/kafka"
)

// listenAddrs spreads listeners over 127.0.0.1..127.0.0.ips and ports
// port..port+perIP-1: fresh connections to one address:port run out of
// ephemeral ports (TIME_WAIT) at a few hundred per second.
func listenAddrs(ips, perIP, port int) []string {
	var out []string
	for i := 1; i <= ips; i++ {
		for p := 0; p < perIP; p++ {
			out = append(out, fmt.Sprintf("127.0.0.%d:%d", i, port+p))
		}
	}
	return out
}

// runTarget serves the target websites on every address until ctx ends.
// It prints "ready" on stdout once every listener is open.
func runTarget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	listen := fs.String("listen", "", "comma-separated addresses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Handler: target.Handler(), ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	var lns []net.Listener
	for _, a := range strings.Split(*listen, ",") {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	fmt.Println("ready")
	select {
	case <-ctx.Done():
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
		return nil
	case err := <-errc:
		return err
	}
}

// runBareLoop GETs the URLs with fresh connections from conc goroutines for
// dur and prints "requests=N errors=E cpu_s=S wall_s=W" measured on itself.
func runBareLoop(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bareloop", flag.ContinueOnError)
	urlsFile := fs.String("urls", "", "file of URLs, one a line")
	conc := fs.Int("c", 64, "goroutines")
	dur := fs.Duration("d", 15*time.Second, "duration")
	rate := fs.Float64("rate", 0, "requests per second at most; 0: as fast as it goes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*urlsFile)
	if err != nil {
		return err
	}
	urls := strings.Fields(string(b))
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		Timeout:   10 * time.Second,
	}
	var reqs, errs atomic.Int64
	var next atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	var r0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	var wg sync.WaitGroup
	// With -rate, a pacer hands out one token per request, like a scheduler
	// starting due checks.
	var tokens chan struct{}
	if *rate > 0 {
		tokens = make(chan struct{}, *conc)
		go func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			sent := 0.0
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				due := time.Since(start).Seconds() * *rate
				for ; sent < due; sent++ {
					select {
					case tokens <- struct{}{}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				u := urls[int(next.Add(1))%len(urls)]
				req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				reqs.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := tv(r1.Utime) + tv(r1.Stime) - tv(r0.Utime) - tv(r0.Stime)
	fmt.Printf("requests=%d errors=%d cpu_s=%.3f wall_s=%.3f\n", reqs.Load(), errs.Load(), cpu.Seconds(), wall.Seconds())
	return nil
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// runCheck measures `sitestat check` on local sites.
func runCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	self := fs.String("self", os.Args[0], "benchtool binary (for the target and the bare loop)")
	sites := fs.Int("sites", 20000, "websites")
	interval := fs.Int("interval", 5, "check_interval of every site, seconds")
	warmup := fs.Duration("warmup", 15*time.Second, "warm-up")
	measure := fs.Duration("measure", 60*time.Second, "measured window")
	ips := fs.Int("ips", 16, "loopback addresses the target listens on")
	perIP := fs.Int("ports", 4, "ports per address")
	port := fs.Int("port", 18080, "first port")
	bareDur := fs.Duration("bare", 15*time.Second, "duration of the bare GET loop")
	bareConc := fs.Int("bare-c", 64, "goroutines of the bare GET loop")
	concurrency := fs.Int("concurrency", 0, "SITESTAT_CHECK_CONCURRENCY; 0: the default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	brokers, err := mustEnv("SITESTAT_TEST_KAFKA_PLAINTEXT")
	if err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()
	tmp, err := os.MkdirTemp("", "bench_check")
	if err != nil {
		return err
	}
	cl.add(func() { os.RemoveAll(tmp) })

	// The target, in its own process so its CPU is not the checker's.
	addrs := listenAddrs(*ips, *perIP, *port)
	tcmd := exec.Command(*self, "target", "-listen", strings.Join(addrs, ","))
	tcmd.Stderr = os.Stderr
	tout, err := tcmd.StdoutPipe()
	if err != nil {
		return err
	}
	tdone, err := startProcess(tcmd)
	if err != nil {
		return err
	}
	cl.add(func() { _ = stopProcess(tcmd, tdone, 5*time.Second) })
	line, err := bufio.NewReader(tout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("target did not start: %q %v", line, err)
	}
	logf("check: target listening on %d addresses (127.0.0.1..127.0.0.%d, ports %d..%d)", len(addrs), *ips, *port, *port+*perIP-1)

	// The database with the sites, and the topic.
	dbURL, err := newDatabase(ctx, &cl, "bench_check")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, dbURL); err != nil {
		return err
	}
	urls := make([]string, *sites)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/ok?site=%d", addrs[i%len(addrs)], i+1)
	}
	if err := insertURLs(ctx, dbURL, urls, *interval); err != nil {
		return err
	}
	urlsFile := filepath.Join(tmp, "urls.txt")
	if err := os.WriteFile(urlsFile, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	kopts := kafka.Options{Brokers: strings.Split(brokers, ",")}
	topic := testenv.Name("bench_check")
	if _, err := kafka.CreateTopics(ctx, kopts, []kafka.TopicSpec{{Name: topic, Partitions: 6, ReplicationFactor: -1}}); err != nil {
		return err
	}
	cl.add(func() { deleteTopics(kopts, topic) })

	// sitestat check, the real binary, with its metrics on a free port.
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "check.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	env := sitestatEnv("SITESTAT_DATABASE_URL="+dbURL, "SITESTAT_KAFKA_BROKERS="+brokers,
		"SITESTAT_KAFKA_TOPIC="+topic, "SITESTAT_METRICS_ADDR="+metricsAddr, "SITESTAT_LOG_LEVEL=warn")
	if *concurrency > 0 {
		env = append(env, fmt.Sprintf("SITESTAT_CHECK_CONCURRENCY=%d", *concurrency))
	}
	ccmd := exec.Command(*bin, "check")
	ccmd.Env = env
	ccmd.Stdout, ccmd.Stderr = lf, lf
	cdone, err := startProcess(ccmd)
	if err != nil {
		return err
	}
	cl.add(func() { _ = stopProcess(ccmd, cdone, 40*time.Second) })
	pid := ccmd.Process.Pid
	logf("check: sitestat check (pid %d): %d sites every %d s = %d checks/s due; %s warm-up, %s measured",
		pid, *sites, *interval, *sites / *interval, *warmup, *measure)

	wait := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-cdone:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("sitestat check exited (%v): %s", err, out)
		case <-time.After(d):
			return nil
		}
	}
	if err := wait(*warmup); err != nil {
		return err
	}
	m0, err := scrape(ctx, metricsAddr)
	if err != nil {
		return fmt.Errorf("scrape metrics: %w", err)
	}
	p0, err := readProc(pid)
	if err != nil {
		return err
	}
	tp0, _ := readProc(tcmd.Process.Pid)
	sys0, _ := readSystemCPU()
	t0 := time.Now()
	var lagMax float64
	for end := t0.Add(*measure); time.Now().Before(end); {
		if err := wait(min(5*time.Second, time.Until(end))); err != nil {
			return err
		}
		if m, err := scrape(ctx, metricsAddr); err == nil {
			lagMax = max(lagMax, m["sitestat_check_lag_p99_seconds"])
			logf("check: %5.0f s: acked %.0f, checks %.0f, skipped %.0f, in flight %.0f, pending %.0f, lag p99 %.0f ms, rss %.0f MB",
				time.Since(t0).Seconds(), m["sitestat_results_acked_total"], m["sitestat_checks_total"], m["sitestat_checks_skipped_total"],
				m["sitestat_check_in_flight"], m["sitestat_results_pending"], m["sitestat_check_lag_p99_seconds"]*1000, m["process_resident_memory_bytes"]/(1<<20))
		}
	}
	m1, err := scrape(ctx, metricsAddr)
	if err != nil {
		return fmt.Errorf("scrape metrics: %w", err)
	}
	p1, err := readProc(pid)
	if err != nil {
		return err
	}
	tp1, _ := readProc(tcmd.Process.Pid)
	sys1, _ := readSystemCPU()
	window := time.Since(t0).Seconds()
	acked := m1["sitestat_results_acked_total"] - m0["sitestat_results_acked_total"]
	checks := m1["sitestat_checks_total"] - m0["sitestat_checks_total"]
	skipped := m1["sitestat_checks_skipped_total"] - m0["sitestat_checks_skipped_total"]
	ackedRate := acked / window
	lagP99 := m1["sitestat_check_lag_p99_seconds"] * 1000
	rssMB := float64(p1.HWMKB) / 1024
	cpu := (p1.CPU - p0.CPU).Seconds()
	cpuPerCheck := cpu / max(checks, 1)
	dropped := m1["sitestat_results_dropped_total"]
	if resent := m1["sitestat_results_resent_total"] - m0["sitestat_results_resent_total"]; resent > 0 || dropped > 0 {
		fmt.Printf("check: WARNING: Kafka failed during the run (%.0f sends retried in the window, %.0f results dropped in all): was the broker restarted? The figures are disturbed.\n", resent, dropped)
	}
	if err := stopProcess(ccmd, cdone, 40*time.Second); err != nil {
		logf("check: stop: %v", err)
	}
	busy, total := sys1.busy-sys0.busy, sys1.total-sys0.total
	fmt.Printf("check: CPU in the window (cores): checker %.2f, target server %.2f, whole machine %.2f busy of %d (the rest: Kafka, PostgreSQL, anything else running)\n",
		(p1.CPU-p0.CPU).Seconds()/window, (tp1.CPU-tp0.CPU).Seconds()/window, float64(busy)/float64(max(total, 1))*float64(runtime.NumCPU()), runtime.NumCPU())
	logf("check: window %.1f s: %.0f acked (%.0f checks/s), %.0f checks, %.0f skipped, %.0f dropped in all; checker CPU %.2f s = %.1f%% of one core, %.1f µs per check; VmHWM %.0f MB",
		window, acked, ackedRate, checks, skipped, dropped, cpu, 100*cpu/window, cpuPerCheck*1e6, rssMB)

	// The bare GET loop against the same listeners, in its own process: as
	// fast as it goes (the machine's ceiling), then paced at the rate the
	// checker reached (CPU per request at the same load: the ratio).
	bareMax, err := bareLoop(ctx, *self, urlsFile, *bareConc, *bareDur, 0)
	if err != nil {
		return err
	}
	barePaced, err := bareLoop(ctx, *self, urlsFile, *bareConc, *bareDur, checks/window)
	if err != nil {
		return err
	}
	ratio := cpuPerCheck / barePaced.cpuPerReq()
	fmt.Printf("check: sitestat check %.0f acked checks/s (%.0f due), lag p99 %.0f ms (since start; max seen in window %.0f ms), peak RSS %.0f MB, CPU %.1f µs/check\n",
		ackedRate, float64(*sites)/float64(*interval), lagP99, lagMax*1000, rssMB, cpuPerCheck*1e6)
	fmt.Printf("bare GET loop (%d goroutines, fresh connections): unpaced %.0f req/s, %.1f µs CPU/req, %.2f cores, %d errors; paced at %.0f/s: %.0f req/s, %.1f µs CPU/req, %d errors\n",
		*bareConc, bareMax.perSec(), bareMax.cpuPerReq()*1e6, bareMax.cpu/bareMax.wall, bareMax.errs,
		checks/window, barePaced.perSec(), barePaced.cpuPerReq()*1e6, barePaced.errs)
	fmt.Printf("bare_loop_requests_per_s=%.0f bare_cpu_us_per_request=%.1f paced_bare_cpu_us_per_request=%.1f checker_cpu_us_per_check=%.1f\n",
		bareMax.perSec(), bareMax.cpuPerReq()*1e6, barePaced.cpuPerReq()*1e6, cpuPerCheck*1e6)
	fmt.Printf("check_checks_per_s=%.0f lag_p99_ms=%.0f rss_mb=%.0f cpu_per_check_ratio=%.2f\n", ackedRate, lagP99, rssMB, ratio)
	return nil
}

// bareResult is what one bare loop measured on itself.
type bareResult struct {
	reqs, errs int64
	cpu, wall  float64
}

func (b bareResult) perSec() float64    { return float64(b.reqs) / b.wall }
func (b bareResult) cpuPerReq() float64 { return b.cpu / max(float64(b.reqs), 1) }

// bareLoop runs `benchtool bareloop` and parses its line.
func bareLoop(ctx context.Context, self, urlsFile string, conc int, d time.Duration, rate float64) (bareResult, error) {
	var b bareResult
	cmd := exec.CommandContext(ctx, self, "bareloop", "-urls", urlsFile, "-c", fmt.Sprint(conc), "-d", d.String(), "-rate", fmt.Sprint(rate))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return b, fmt.Errorf("bare loop: %w", err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "requests=%d errors=%d cpu_s=%f wall_s=%f", &b.reqs, &b.errs, &b.cpu, &b.wall); err != nil {
		return b, fmt.Errorf("bare loop output %q: %w", out, err)
	}
	logf("check: bare loop (rate %.0f): %s", rate, strings.TrimSpace(string(out)))
	return b, nil
}

// insertURLs adds the websites.
func insertURLs(ctx context.Context, dbURL string, urls []string, interval int) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "INSERT INTO websites (url, check_interval) SELECT u, $2 FROM unnest($1::text[]) u",
		"{"+strings.Join(urls, ",")+"}", interval)
	if err != nil {
		return fmt.Errorf("insert websites: %w", err)
	}
	return nil
}

// systemCPU is the first line of /proc/stat, in clock ticks.
type systemCPU struct{ busy, total int64 }

func readSystemCPU() (systemCPU, error) {
	var c systemCPU
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 7 { // guest and guest_nice are already in user and nice
			break
		}
		c.total += n
		if i != 3 && i != 4 { // idle, iowait
			c.busy += n
		}
	}
	return c, nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
