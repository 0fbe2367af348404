package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/target"
	"github.com/sitestat/sitestat/testutil/testenv"
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

// runCheck measures `sitestat check` on local sites in one run: the bare GET
// loop's ceiling, the checker's capacity (offered more than that ceiling,
// acknowledged checks/s over the window), then, with the sites cut to 70%
// of that capacity, the lag p99 over a window (from the difference of two
// readings of the lag histogram) and the CPU per check against the bare loop
// paced at the same rate.
func runCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	self := fs.String("self", os.Args[0], "benchtool binary (for the target and the bare loop)")
	overload := fs.Float64("overload", 1.3, "checks/s offered in the capacity phase, as a multiple of the bare loop's requests/s")
	load := fs.Float64("load", 0.7, "checks/s offered in the lag phase, as a fraction of the capacity found")
	interval := fs.Int("interval", 5, "check_interval of every site, seconds")
	warmup := fs.Duration("warmup", 15*time.Second, "warm-up before the capacity window")
	measure := fs.Duration("measure", 30*time.Second, "each measured window (capacity, then lag)")
	settle := fs.Duration("settle", 10*time.Second, "wait after the cut to the lag phase's sites")
	ips := fs.Int("ips", 16, "loopback addresses the target listens on")
	perIP := fs.Int("ports", 4, "ports per address")
	port := fs.Int("port", 18080, "first port")
	bareDur := fs.Duration("bare", 15*time.Second, "duration of each bare GET loop")
	bareConc := fs.Int("bare-c", 64, "goroutines of the bare GET loop")
	concurrency := fs.Int("concurrency", 0, "SITESTAT_CHECK_CONCURRENCY; 0: the default")
	profile := fs.String("profile", "", "save a 10 s CPU profile of the checker in the capacity window here (needs a sitestat serving /debug/pprof on its metrics address)")
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
	siteURL := func(i int) string { return fmt.Sprintf("http://%s/ok?site=%d", addrs[i%len(addrs)], i+1) }

	// 1. The bare loop's ceiling, which sets how much the checker is offered.
	bareURLs := make([]string, 20000)
	for i := range bareURLs {
		bareURLs[i] = siteURL(i)
	}
	urlsFile := filepath.Join(tmp, "urls.txt")
	if err := os.WriteFile(urlsFile, []byte(strings.Join(bareURLs, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	bareMax, err := bareLoop(ctx, *self, urlsFile, *bareConc, *bareDur, 0)
	if err != nil {
		return err
	}

	// 2. The database with more sites than the bare loop can check, and the topic.
	sites := int(math.Ceil(*overload * bareMax.perSec() * float64(*interval)))
	dbURL, err := newDatabase(ctx, &cl, "bench_check")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, dbURL); err != nil {
		return err
	}
	urls := make([]string, sites)
	for i := range urls {
		urls[i] = siteURL(i)
	}
	if err := insertURLs(ctx, dbURL, urls, *interval); err != nil {
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
		"SITESTAT_KAFKA_TOPIC="+topic, "SITESTAT_METRICS_ADDR="+metricsAddr, "SITESTAT_LOG_LEVEL=warn",
		"SITESTAT_CHECK_REFRESH=5s") // the cut to the lag phase shows within 5 s; at 2 s the reloads of the capacity phase's sites cost ~3% of its CPU
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
	logf("check: sitestat check (pid %d): %d sites every %d s = %d checks/s offered (%.1f× the bare loop); %s warm-up, %s measured",
		pid, sites, *interval, sites / *interval, *overload, *warmup, *measure)

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

	// 3. Capacity: acknowledged checks/s with more offered than it can do.
	var profileDone chan error
	if *profile != "" {
		profileDone = make(chan error, 1)
		go func() { profileDone <- saveProfile(ctx, metricsAddr, *profile, 10*time.Second) }()
	}
	capWin, err := measureWindow(ctx, metricsAddr, pid, tcmd.Process.Pid, *measure, wait)
	if err != nil {
		return err
	}
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			logf("check: profile: %v", err)
		} else {
			logf("check: CPU profile of the capacity window saved to %s", *profile)
		}
	}
	capacity := capWin.ackedPerSec()
	capWin.print("capacity", sites / *interval)

	// 4. Lag and CPU at a fraction of that capacity: the extra sites go,
	// the checker drops them at its next reload.
	keep := max(1, int(*load*capacity*float64(*interval)))
	if err := keepSites(ctx, dbURL, keep); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := scrape(ctx, metricsAddr)
		if err == nil && int(m["sitestat_check_sites"]) == keep {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sitestat check did not drop to %d sites within 30 s", keep)
		}
		if err := wait(500 * time.Millisecond); err != nil {
			return err
		}
	}
	logf("check: %d sites every %d s = %.0f checks/s offered (%.0f%% of the capacity); %s settle, %s measured",
		keep, *interval, float64(keep)/float64(*interval), 100**load, *settle, *measure)
	if err := wait(*settle); err != nil {
		return err
	}
	loadWin, err := measureWindow(ctx, metricsAddr, pid, tcmd.Process.Pid, *measure, wait)
	if err != nil {
		return err
	}
	loadWin.print("load", keep / *interval)
	dropped := loadWin.m1["sitestat_results_dropped_total"]
	if resent := loadWin.m1["sitestat_results_resent_total"]; resent > 0 || dropped > 0 {
		fmt.Printf("check: WARNING: Kafka failed during the run (%.0f sends retried, %.0f results dropped): was the broker restarted? The figures are disturbed.\n", resent, dropped)
	}
	if err := stopProcess(ccmd, cdone, 40*time.Second); err != nil {
		logf("check: stop: %v", err)
	}

	// 5. The bare loop paced at the rate the checker ran in the lag phase:
	// CPU per request at the same load.
	barePaced, err := bareLoop(ctx, *self, urlsFile, *bareConc, *bareDur, loadWin.checksPerSec())
	if err != nil {
		return err
	}
	capacityRatio := capacity / bareMax.perSec()
	cpuRatio := loadWin.cpuPerCheck() / barePaced.cpuPerReq()
	fmt.Printf("check: capacity %.0f acked checks/s with %d offered = %.2f of the bare loop; at %.0f%% of it (%.0f checks/s): lag p99 %.0f ms over the window, CPU %.1f µs/check vs %.1f paced bare = %.2f×; peak RSS %.0f MB\n",
		capacity, sites / *interval, capacityRatio, 100**load, loadWin.checksPerSec(), loadWin.lagP99()*1000,
		loadWin.cpuPerCheck()*1e6, barePaced.cpuPerReq()*1e6, cpuRatio, loadWin.rssMB)
	fmt.Printf("bare GET loop (%d goroutines, fresh connections): unpaced %.0f req/s, %.1f µs CPU/req, %.2f cores, %d errors; paced at %.0f/s: %.0f req/s, %.1f µs CPU/req, %d errors\n",
		*bareConc, bareMax.perSec(), bareMax.cpuPerReq()*1e6, bareMax.cpu/bareMax.wall, bareMax.errs,
		loadWin.checksPerSec(), barePaced.perSec(), barePaced.cpuPerReq()*1e6, barePaced.errs)
	fmt.Printf("bare_loop_requests_per_s=%.0f bare_cpu_us_per_request=%.1f paced_bare_cpu_us_per_request=%.1f checker_cpu_us_per_check=%.1f capacity_cpu_us_per_check=%.1f\n",
		bareMax.perSec(), bareMax.cpuPerReq()*1e6, barePaced.cpuPerReq()*1e6, loadWin.cpuPerCheck()*1e6, capWin.cpuPerCheck()*1e6)
	fmt.Printf("check_checks_per_s=%.0f capacity_ratio=%.2f load_checks_per_s=%.0f lag_p99_ms=%.0f rss_mb=%.0f cpu_per_check_ratio=%.2f\n",
		capacity, capacityRatio, loadWin.checksPerSec(), loadWin.lagP99()*1000, loadWin.rssMB, cpuRatio)
	return nil
}

// window is what one measured window saw: metrics and CPU at both ends.
type window struct {
	m0, m1      map[string]float64
	p0, p1      procStat
	tp0, tp1    procStat
	sys0, sys1  systemCPU
	secs, rssMB float64
}

func (w window) delta(name string) float64 { return w.m1[name] - w.m0[name] }
func (w window) ackedPerSec() float64      { return w.delta("sitestat_results_acked_total") / w.secs }
func (w window) checksPerSec() float64     { return w.delta("sitestat_checks_total") / w.secs }
func (w window) cpuPerCheck() float64 {
	return (w.p1.CPU - w.p0.CPU).Seconds() / max(w.delta("sitestat_checks_total"), 1)
}

// lagP99 is the 99th percentile of the start lag of the checks started in
// the window, in seconds, from the difference of the two histogram
// readings, interpolated within its bucket as Prometheus'
// histogram_quantile does (the largest bound when it is beyond them).
func (w window) lagP99() float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v1 := range w.m1 {
		rest, ok := strings.CutPrefix(k, `sitestat_check_lag_seconds_bucket{le="`)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le, v1 - w.m0[k]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	total := w.delta("sitestat_check_lag_seconds_count")
	if len(bs) == 0 || total <= 0 {
		return math.NaN()
	}
	rank := 0.99 * total
	prevLe, prevN := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return prevLe
			}
			return prevLe + (b.le-prevLe)*(rank-prevN)/max(b.n-prevN, 1)
		}
		prevLe, prevN = b.le, b.n
	}
	return prevLe
}

// print logs the window's progress figures.
func (w window) print(name string, offered int) {
	busy, total := w.sys1.busy-w.sys0.busy, w.sys1.total-w.sys0.total
	logf("check: %s window %.1f s: %d checks/s offered, %.0f acked/s, %.0f checks/s, %.0f skipped, lag p99 %.0f ms (this window); CPU (cores): checker %.2f (%.1f µs/check), target %.2f, machine %.2f busy of %d; VmHWM %.0f MB",
		name, w.secs, offered, w.ackedPerSec(), w.checksPerSec(), w.delta("sitestat_checks_skipped_total"), w.lagP99()*1000,
		(w.p1.CPU-w.p0.CPU).Seconds()/w.secs, w.cpuPerCheck()*1e6, (w.tp1.CPU-w.tp0.CPU).Seconds()/w.secs,
		float64(busy)/float64(max(total, 1))*float64(runtime.NumCPU()), runtime.NumCPU(), w.rssMB)
}

// measureWindow reads the checker's metrics and CPU, waits d (logging
// progress every 5 s) and reads them again.
func measureWindow(ctx context.Context, addr string, pid, targetPid int, d time.Duration, wait func(time.Duration) error) (window, error) {
	var w window
	var err error
	if w.m0, err = scrape(ctx, addr); err != nil {
		return w, fmt.Errorf("scrape metrics: %w", err)
	}
	if w.p0, err = readProc(pid); err != nil {
		return w, err
	}
	w.tp0, _ = readProc(targetPid)
	w.sys0, _ = readSystemCPU()
	t0 := time.Now()
	for end := t0.Add(d); time.Now().Before(end); {
		if err := wait(min(5*time.Second, time.Until(end))); err != nil {
			return w, err
		}
		if m, err := scrape(ctx, addr); err == nil {
			logf("check: %5.0f s: acked %.0f, checks %.0f, skipped %.0f, in flight %.0f, pending %.0f, rss %.0f MB",
				time.Since(t0).Seconds(), m["sitestat_results_acked_total"], m["sitestat_checks_total"], m["sitestat_checks_skipped_total"],
				m["sitestat_check_in_flight"], m["sitestat_results_pending"], m["process_resident_memory_bytes"]/(1<<20))
		}
	}
	if w.m1, err = scrape(ctx, addr); err != nil {
		return w, fmt.Errorf("scrape metrics: %w", err)
	}
	if w.p1, err = readProc(pid); err != nil {
		return w, err
	}
	w.tp1, _ = readProc(targetPid)
	w.sys1, _ = readSystemCPU()
	w.secs = time.Since(t0).Seconds()
	w.rssMB = float64(w.p1.HWMKB) / 1024
	return w, nil
}

// saveProfile saves a CPU profile of d from the checker's /debug/pprof.
func saveProfile(ctx context.Context, addr, path string, d time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/profile: %s (is pprof served on the metrics address?)", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// keepSites deletes every website but the first n.
func keepSites(ctx context.Context, dbURL string, n int) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DELETE FROM websites WHERE id NOT IN (SELECT id FROM websites ORDER BY id LIMIT $1)", n); err != nil {
		return fmt.Errorf("delete websites: %w", err)
	}
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
