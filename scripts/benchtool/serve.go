package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"
)

// runServe measures sitestat serve over websites × 90 days of daily rollups
// (and 48 hours of hourly ones) generated in SQL: the latency of an overview
// page chosen at random, a website page, badges at a steady rate, and the
// JSON list of every website. Latencies are measured by a client on the
// loopback, so they include the (small) transfer time.
func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	sites := fs.Int("sites", 10000, "websites")
	pages := fs.Int("pages", 200, "overview and website pages requested (each)")
	badgeRate := fs.Int("badge-rate", 200, "badge requests per second")
	badgeFor := fs.Duration("badge-for", 10*time.Second, "how long badges are requested")
	apiRuns := fs.Int("api-runs", 20, "requests of /api/v1/sites")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()
	dbURL, err := newDatabase(ctx, &cl, "bench_serve")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, dbURL); err != nil {
		return err
	}
	start := time.Now()
	if err := execAll(ctx, dbURL, append([]string{
		fmt.Sprintf(`INSERT INTO websites (url, check_interval, name)
			SELECT 'https://www.site' || i || '.example.com/health', 60, CASE WHEN i %% 3 = 0 THEN 'Site ' || i ELSE '' END
			FROM generate_series(1, %d) i`, *sites),
		`INSERT INTO incidents (website_id, kind, started_at, reason, probes)
		 SELECT id, 'down', now() - interval '1 hour', 'timeout', '{default}' FROM websites WHERE id % 100 = 0`,
	}, rollupSeed(89, 48, false)...)...); err != nil {
		return err
	}
	logf("serve: %d websites × 90 days of daily rollups and 48 h of hourly ones loaded in %s", *sites, time.Since(start).Round(time.Millisecond))

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, *bin, "serve")
	cmd.Env = sitestatEnv("SITESTAT_DATABASE_URL="+dbURL, "SITESTAT_HTTP_ADDR="+addr, "SITESTAT_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	done, err := startProcess(cmd)
	if err != nil {
		return err
	}
	cl.add(func() {
		if err := stopProcess(cmd, done, 10*time.Second); err != nil {
			logf("stop serve: %v", err)
		}
	})
	base := "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(path string) (time.Duration, error) {
		t0 := time.Now()
		res, err := client.Get(base + path)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, res.Status)
		}
		return time.Since(t0), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := get("/readyz"); err == nil {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("serve not ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	nPages := (*sites + 99) / 100
	sequential := func(name string, n int, path func() string) (float64, error) {
		var lat []time.Duration
		for range n {
			d, err := get(path())
			if err != nil {
				return 0, err
			}
			lat = append(lat, d)
		}
		p := p99ms(lat)
		logf("serve: %s: %d requests, p50 %.1f ms, p99 %.1f ms", name, n, p50ms(lat), p)
		return p, nil
	}
	overview, err := sequential("overview", *pages, func() string { return fmt.Sprintf("/?page=%d", 1+rand.IntN(nPages)) })
	if err != nil {
		return err
	}
	site, err := sequential("website page", *pages, func() string { return fmt.Sprintf("/sites/%d", 1+rand.IntN(*sites)) })
	if err != nil {
		return err
	}
	// Badges at a steady rate, open loop: a request starts every 1/rate s
	// whether or not the previous ones finished.
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(*badgeRate))
	stop := time.After(*badgeFor)
loop:
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			break loop
		case <-tick.C:
		}
		path := fmt.Sprintf("/badge/%d/status.svg", 1+rand.IntN(*sites))
		if i%2 == 1 {
			path = fmt.Sprintf("/badge/%d/uptime/30d.svg", 1+rand.IntN(*sites))
		}
		wg.Go(func() {
			d, err := get(path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			lat = append(lat, d)
		})
	}
	tick.Stop()
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	badge := p99ms(lat)
	logf("serve: badges at %d/s for %s: %d requests, p50 %.1f ms, p99 %.1f ms", *badgeRate, *badgeFor, len(lat), p50ms(lat), badge)
	api, err := sequential("/api/v1/sites", *apiRuns, func() string { return "/api/v1/sites" })
	if err != nil {
		return err
	}
	fmt.Printf("overview_p99_ms=%.1f site_p99_ms=%.1f badge_p99_ms=%.1f api_sites_p99_ms=%.1f\n", overview, site, badge, api)
	return nil
}

func quantileMs(lat []time.Duration, q float64) float64 {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return float64(s[i]) / float64(time.Millisecond)
}

func p99ms(lat []time.Duration) float64 { return quantileMs(lat, 0.99) }
func p50ms(lat []time.Duration) float64 { return quantileMs(lat, 0.5) }
