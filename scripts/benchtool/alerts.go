package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// runAlerts measures the alert latency of the real check and sync: sites
// served by a local target, outages made by answering HTTP 500, and a
// webhook receiver. The latency of an outage runs from the completion of
// the check that crosses the threshold (its checked_at + response time) to
// the receiver getting the down notification.
func runAlerts(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	sites := fs.Int("sites", 1000, "websites")
	interval := fs.Int("interval", 5, "check interval of every site, seconds")
	outages := fs.Int("outages", 120, "outages to make")
	spread := fs.Duration("spread", 60*time.Second, "the outages start over this long")
	length := fs.Duration("length", 20*time.Second, "how long each outage lasts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()
	dbURL, err := newDatabase(ctx, &cl, "bench_alerts")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, dbURL); err != nil {
		return err
	}
	brokers, err := mustEnv("SITESTAT_TEST_KAFKA_PLAINTEXT")
	if err != nil {
		return err
	}
	topic := testenv.Name("bench_alerts")
	kopts := kafka.Options{Brokers: strings.Split(brokers, ",")}
	cl.add(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = kafka.DeleteTopics(c, kopts, []string{topic, topic + ".dlq", topic + ".heartbeats"})
	})

	// The target: /s/N answers 500 while site N is in an outage.
	down := make([]atomic.Bool, *sites+1)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/s/"))
		if n > 0 && n < len(down) && down[n].Load() {
			http.Error(w, "outage", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok\n")
	})}
	go target.Serve(tl)
	defer target.Close()

	// The receiver: when each incident's down arrived (the first time).
	var mu sync.Mutex
	arrived := map[int64]time.Time{}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	receiver := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var m struct {
			Event      string `json:"event"`
			IncidentID int64  `json:"incident_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&m)
		if m.Event == "down" {
			mu.Lock()
			if _, ok := arrived[m.IncidentID]; !ok {
				arrived[m.IncidentID] = at
			}
			mu.Unlock()
		}
	})}
	go receiver.Serve(rl)
	defer receiver.Close()

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO websites (url, check_interval)
		SELECT 'http://%s/s/' || i, %d FROM generate_series(1, %d) i`, tl.Addr(), *interval, *sites)); err != nil {
		return err
	}
	env := sitestatEnv("SITESTAT_DATABASE_URL="+dbURL, "SITESTAT_KAFKA_BROKERS="+brokers, "SITESTAT_KAFKA_TOPIC="+topic,
		"SITESTAT_SYNC_GROUP="+topic, "SITESTAT_ALERT_WEBHOOK_URL=http://"+rl.Addr().String()+"/hook",
		"SITESTAT_CHECK_REFRESH=5s", "SITESTAT_LOG_LEVEL=warn")
	if err := runSitestat(ctx, *bin, env, "topics", "create", "--partitions", "3"); err != nil {
		return err
	}
	start := func(role string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, *bin, role)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		cl.add(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, nil
	}
	if _, err := start("sync"); err != nil {
		return err
	}
	if _, err := start("check"); err != nil {
		return err
	}
	logf("alerts: %d sites every %d s; warming up", *sites, *interval)
	if !sleep(ctx, time.Duration(2**interval)*time.Second+5*time.Second) {
		return ctx.Err()
	}

	// The outages: distinct sites, started evenly over the spread.
	perm := rand.Perm(*sites)
	n := min(*outages, *sites)
	var wg sync.WaitGroup
	for i := range n {
		site := perm[i] + 1
		wg.Go(func() {
			if !sleep(ctx, time.Duration(i)**spread/time.Duration(n)) {
				return
			}
			down[site].Store(true)
			sleep(ctx, *length)
			down[site].Store(false)
		})
	}
	wg.Wait()
	logf("alerts: %d outages made; waiting for the notifications", n)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(arrived)
		mu.Unlock()
		if got >= n {
			break
		}
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}

	// The crossing check of each incident: its threshold-th failed check
	// from started_at (the default threshold, 3).
	rows, err := db.QueryContext(ctx, `
		SELECT i.id, c.done
		FROM incidents i
		CROSS JOIN LATERAL (
			SELECT s.timestamp_utc + make_interval(secs => coalesce(s.response_time_ms, 0) / 1000.0) AS done
			FROM website_status s
			WHERE s.website_id = i.website_id AND s.timestamp_utc >= i.started_at AND NOT s.up
			ORDER BY s.timestamp_utc OFFSET 2 LIMIT 1) c
		WHERE i.kind = 'down'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var lat []float64
	missing := 0
	for rows.Next() {
		var id int64
		var done time.Time
		if err := rows.Scan(&id, &done); err != nil {
			return err
		}
		mu.Lock()
		at, ok := arrived[id]
		mu.Unlock()
		if !ok {
			missing++
			continue
		}
		lat = append(lat, float64(at.Sub(done).Microseconds())/1000)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(lat) == 0 {
		return fmt.Errorf("alerts: no down notification arrived for %d outages", n)
	}
	sort.Float64s(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	logf("alerts: %d outages, %d incidents notified, %d not notified", n, len(lat), missing)
	fmt.Printf("alert_outages=%d alert_notified=%d alert_latency_p50_ms=%.0f alert_latency_max_ms=%.0f\n",
		n, len(lat), q(0.5), lat[len(lat)-1])
	fmt.Printf("alert_latency_p99_ms=%.0f\n", q(0.99))
	return nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
