package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/testenv"
)

const statusColumns = "website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms"

// runSync measures `sitestat sync` against a raw COPY and one INSERT per row,
// then the heavy case: many websites and two probes, so that each batch
// touches about as many rollup and state rows as it has results.
func runSync(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	n := fs.Int("n", 200000, "results to preload")
	sites := fs.Int("sites", 1000, "websites")
	naiveN := fs.Int("naive", 20000, "rows for the one-INSERT-per-row reference")
	partitions := fs.Int("partitions", 6, "partitions of the topic")
	heavySites := fs.Int("heavy-sites", 10000, "websites of the heavy case (0: skip it)")
	heavyProbes := fs.Int("heavy-probes", 2, "probes of the heavy case")
	heavyDown := fs.Int("heavy-down-pct", 5, "percentage of checks down in the heavy case")
	tmp := fs.String("tmp", os.TempDir(), "directory for the COPY file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	brokers, err := mustEnv("SITESTAT_TEST_KAFKA_PLAINTEXT")
	if err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()
	sc := syncCase{bin: *bin, brokers: brokers, n: *n, partitions: *partitions, tmp: *tmp}

	main := sc
	main.name, main.sites, main.probes, main.downPct, main.naiveN = "sync", *sites, 1, 5, *naiveN
	m, err := main.run(ctx, &cl)
	if err != nil {
		return err
	}
	fmt.Printf("sync: sitestat sync %.0f rows/s; raw COPY %.0f rows/s; one INSERT per row %.0f rows/s (measured on %d rows)\n",
		m.sync, m.copy, m.naive, min(*naiveN, *n))
	line := fmt.Sprintf("sync_rows_per_s=%.0f copy_rows_per_s=%.0f naive_rows_per_s=%.0f ratio_copy=%.3f ratio_naive=%.2f",
		m.sync, m.copy, m.naive, m.sync/m.copy, m.sync/m.naive)
	if *heavySites > 0 {
		heavy := sc
		heavy.name, heavy.sites, heavy.probes, heavy.downPct = "sync heavy", *heavySites, *heavyProbes, *heavyDown
		h, err := heavy.run(ctx, &cl)
		if err != nil {
			return err
		}
		fmt.Printf("sync heavy (%d websites, %d probes, %d%% down): sitestat sync %.0f rows/s; raw COPY %.0f rows/s\n",
			*heavySites, *heavyProbes, *heavyDown, h.sync, h.copy)
		line += fmt.Sprintf(" heavy_sync_rows_per_s=%.0f heavy_copy_rows_per_s=%.0f heavy_ratio_copy=%.3f", h.sync, h.copy, h.sync/h.copy)
	}
	fmt.Println(line)
	return nil
}

// syncCase is one comparison of sitestat sync with a raw COPY of the same
// rows into an identical, freshly migrated database.
type syncCase struct {
	name                   string
	bin, brokers, tmp      string
	n, partitions          int
	sites, probes, downPct int
	naiveN                 int // 0: no one-INSERT-per-row reference
}

// syncRates are the rates a syncCase measured, in rows/s.
type syncRates struct{ sync, copy, naive float64 }

func (sc syncCase) run(ctx context.Context, cl *cleanups) (syncRates, error) {
	var out syncRates
	dbs := []string{"bench_sync", "bench_copy"}
	if sc.naiveN > 0 {
		dbs = append(dbs, "bench_naive")
	}
	urls := make([]string, len(dbs))
	for i, p := range dbs {
		var err error
		if urls[i], err = newDatabase(ctx, cl, p); err != nil {
			return out, err
		}
		if err := migrate(ctx, sc.bin, urls[i]); err != nil {
			return out, err
		}
		if err := insertSites(ctx, urls[i], sc.sites); err != nil {
			return out, err
		}
	}

	// The results, their JSON and a CSV file of the rows for COPY.
	rs, values := makeResults(sc.n, sc.sites, sc.probes, sc.downPct)
	avg := 0
	for _, v := range values {
		avg += len(v)
	}
	logf("%s: %d results, %d bytes of JSON on average, %d websites, %d probe(s), %d%% down; e.g. %s",
		sc.name, sc.n, avg/sc.n, sc.sites, sc.probes, sc.downPct, values[0])
	csvPath := filepath.Join(sc.tmp, testenv.Name("bench_copy")+".csv")
	cl.add(func() { os.Remove(csvPath) })
	if err := writeCSV(csvPath, rs, values); err != nil {
		return out, err
	}

	// The topic, preloaded through the product's producer (same codec and
	// partitioner as sitestat check).
	kopts := kafka.Options{Brokers: strings.Split(sc.brokers, ",")}
	topic := testenv.Name("bench_results")
	if _, err := kafka.CreateTopics(ctx, kopts, []kafka.TopicSpec{
		{Name: topic, Partitions: int32(sc.partitions), ReplicationFactor: -1},
		{Name: topic + ".dlq", Partitions: 1, ReplicationFactor: -1},
	}); err != nil {
		return out, err
	}
	cl.add(func() { deleteTopics(kopts, topic, topic+".dlq") })
	start := time.Now()
	prod, err := kafka.NewProducer(ctx, kopts, kafka.ProducerOptions{Topic: topic, Buffer: sc.n + 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		return out, err
	}
	for _, r := range rs {
		value, err := r.Encode()
		if err != nil {
			return out, fmt.Errorf("preload: %w", err)
		}
		prod.Publish(ctx, r.Key(), value)
	}
	if err := prod.Close(ctx); err != nil {
		return out, fmt.Errorf("preload: %w", err)
	}
	if st := prod.Stats(); st.Acked < uint64(sc.n) {
		return out, fmt.Errorf("preload: %d of %d results acknowledged", st.Acked, sc.n)
	}
	logf("%s: preloaded %d results into %s (%d partitions) in %s", sc.name, sc.n, topic, sc.partitions, time.Since(start).Round(time.Millisecond))

	// 1. sitestat sync, the real binary, from process start to the last row committed.
	if out.sync, err = timeSync(ctx, sc.bin, urls[0], sc.brokers, topic, sc.n); err != nil {
		return out, err
	}

	// 2. The ceiling: one COPY of the same rows through psql into the same
	// (partitioned) table, without rollups.
	start = time.Now()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", urls[1], "-c",
		`\copy website_status (`+statusColumns+`) FROM '`+csvPath+`' WITH (FORMAT csv)`)
	if out, err := cmd.CombinedOutput(); err != nil {
		return syncRates{}, fmt.Errorf("psql copy: %w: %s", err, out)
	}
	copySecs := time.Since(start).Seconds()
	if err := expectCount(ctx, urls[1], sc.n); err != nil {
		return out, err
	}
	out.copy = float64(sc.n) / copySecs
	logf("%s: raw COPY via psql: %d rows in %.2f s = %.0f rows/s", sc.name, sc.n, copySecs, out.copy)

	// 3. The naive way: one autocommitted INSERT per message.
	if sc.naiveN > 0 {
		nn := min(sc.naiveN, sc.n)
		if out.naive, err = naiveInsert(ctx, urls[2], rs[:nn], values[:nn]); err != nil {
			return out, err
		}
		logf("%s: one INSERT per row (autocommit, database/sql): %d rows (a subset) = %.0f rows/s", sc.name, nn, out.naive)
	}
	return out, nil
}

// insertSites adds n websites with ids 1..n to a fresh database.
func insertSites(ctx context.Context, dbURL string, n int) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx,
		"INSERT INTO websites (url, check_interval) SELECT 'https://www.site' || i || '.example.com/health', 5 FROM generate_series(1, $1) i", n)
	if err != nil {
		return fmt.Errorf("insert websites: %w", err)
	}
	return nil
}

// makeResults returns n realistic results for sites 1..sites checked from
// probes probes, downPct percent of them down, and their JSON.
func makeResults(n, sites, probes, downPct int) ([]contract.Result, [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := make([]contract.Result, n)
	values := make([][]byte, n)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range rs {
		id := int64(i%sites + 1)
		probe := "eu-west-1a"
		if probes > 1 {
			probe = fmt.Sprintf("probe-%d", (i/sites)%probes+1)
		}
		u := fmt.Sprintf("https://site%d.example.com/", id)
		code := 200
		r := contract.Result{
			V: contract.Version, CheckID: uuid.NewString(), WebsiteID: id, URL: u,
			CheckedAt: base.Add(time.Duration(i) * 5 * time.Millisecond),
			Probe:     probe, Host: "bench-host", Up: true, Reason: contract.ReasonOK,
			StatusCode:     &code,
			ResponseTimeMs: 20 + rng.Float64()*300,
			Redirects:      0, FinalURL: u, BodyBytes: int64(512 + rng.IntN(4096)),
			TLSVersion: "TLS 1.3",
		}
		r.PhasesMs = contract.Phases{DNSMs: 1.2, ConnectMs: 3.4, TLSMs: 12.1, TTFBMs: r.ResponseTimeMs - 20, TransferMs: 3.3}
		if rng.IntN(100) < downPct {
			c := 503
			r.StatusCode, r.Up, r.Reason, r.Error = &c, false, contract.ReasonHTTPStatus, "status 503 Service Unavailable"
		}
		r.ResponseTimeMs = float64(int64(r.ResponseTimeMs*1000)) / 1000
		r.PhasesMs.TTFBMs = float64(int64(r.PhasesMs.TTFBMs*1000)) / 1000
		b, err := r.Encode()
		if err != nil {
			panic(err)
		}
		rs[i], values[i] = r, b
	}
	return rs, values
}

// writeCSV writes the rows sync would store, as CSV for COPY.
func writeCSV(path string, rs []contract.Result, values [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	for i := range rs {
		r := &rs[i]
		code := ""
		if r.StatusCode != nil {
			code = strconv.Itoa(*r.StatusCode)
		}
		if err := w.Write([]string{
			strconv.FormatInt(r.WebsiteID, 10), r.CheckedAt.Format(time.RFC3339Nano), string(values[i]), r.CheckID,
			strconv.FormatBool(r.Up), string(r.Reason), code, strconv.FormatFloat(r.ResponseTimeMs, 'f', -1, 64),
		}); err != nil {
			f.Close()
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func count(ctx context.Context, db *sql.DB) (int, error) {
	var c int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM website_status").Scan(&c)
	return c, err
}

func expectCount(ctx context.Context, dbURL string, want int) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := count(ctx, db)
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("website_status has %d rows, want %d", c, want)
	}
	return nil
}

// timeSync runs sitestat sync and returns rows/s from process start until
// count(*) reaches n (polled every 100 ms); then it stops the process.
func timeSync(ctx context.Context, bin, dbURL, brokers, topic string, n int) (float64, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return 0, err
	}
	logPath := filepath.Join(os.TempDir(), testenv.Name("bench_sync")+".log")
	logf_, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer os.Remove(logPath)
	defer logf_.Close()
	cmd := exec.Command(bin, "sync")
	cmd.Env = sitestatEnv("SITESTAT_DATABASE_URL="+dbURL, "SITESTAT_KAFKA_BROKERS="+brokers,
		"SITESTAT_KAFKA_TOPIC="+topic, "SITESTAT_SYNC_GROUP="+testenv.Name("bench_group"))
	cmd.Stdout, cmd.Stderr = logf_, logf_
	start := time.Now()
	done, err := startProcess(cmd)
	if err != nil {
		return 0, err
	}
	defer stopProcess(cmd, done, 30*time.Second)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var first time.Duration
	deadline := start.Add(10 * time.Minute)
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-done:
			out, _ := os.ReadFile(logPath)
			return 0, fmt.Errorf("sitestat sync exited early (%v): %s", err, out)
		case <-t.C:
		}
		c, err := count(ctx, db)
		if err != nil {
			return 0, err
		}
		if c > 0 && first == 0 {
			first = time.Since(start)
		}
		if c >= n {
			el := time.Since(start)
			if c != n {
				return 0, fmt.Errorf("sync stored %d rows, want %d", c, n)
			}
			rate := float64(n) / el.Seconds()
			logf("sync: sitestat sync stored %d rows in %.2f s from process start = %.0f rows/s (first row seen after %.2f s; %.0f rows/s from then; peak RSS %s)",
				n, el.Seconds(), rate, first.Seconds(), float64(n)/(el-first+50*time.Millisecond).Seconds(), peakRSS(cmd.Process.Pid))
			if err := stopProcess(cmd, done, 30*time.Second); err != nil {
				logf("sync: stop: %v", err)
			}
			return rate, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("sync stored %d of %d rows in %s", c, n, time.Since(start))
		}
	}
}

// naiveInsert stores rows with one autocommitted INSERT each and returns rows/s.
func naiveInsert(ctx context.Context, dbURL string, rs []contract.Result, values [][]byte) (float64, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return 0, err
	}
	q := "INSERT INTO website_status (" + statusColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	start := time.Now()
	for i := range rs {
		r := &rs[i]
		var code any
		if r.StatusCode != nil {
			code = *r.StatusCode
		}
		if _, err := db.ExecContext(ctx, q, r.WebsiteID, r.CheckedAt, string(values[i]), r.CheckID, r.Up, string(r.Reason), code, r.ResponseTimeMs); err != nil {
			return 0, fmt.Errorf("insert: %w", err)
		}
	}
	return float64(len(rs)) / time.Since(start).Seconds(), nil
}

// peakRSS returns the peak resident set size of process pid (VmHWM), or
// "unknown".
func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}
