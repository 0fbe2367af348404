package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// runStatus loads sites × a day of results at one a minute and times the
// real `sitestat status` over them.
func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	bin := fs.String("bin", "", "sitestat binary")
	sites := fs.Int("sites", 1000, "websites")
	runs := fs.Int("runs", 3, "runs of sitestat status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cl cleanups
	defer cl.run()
	dbURL, err := newDatabase(ctx, &cl, "bench_status")
	if err != nil {
		return err
	}
	if err := migrate(ctx, *bin, dbURL); err != nil {
		return err
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO websites (url, check_interval) SELECT 'https://www.site' || i || '.example.com/health', 60 FROM generate_series(1, %d) i", *sites),
		// A day of checks every minute, ending now: all in the default 24 h window.
		`INSERT INTO website_status (website_id, timestamp_utc, request_info, check_id, up, reason, status_code, response_time_ms)
		 SELECT w.id, now() - make_interval(mins => m, secs => w.id % 60),
		        jsonb_build_object('v', 1, 'website_id', w.id, 'probe', 'checker-eu-west-1a'),
		        gen_random_uuid(),
		        (w.id + m) % 20 <> 0, CASE WHEN (w.id + m) % 20 <> 0 THEN 'ok' ELSE 'http_status' END,
		        CASE WHEN (w.id + m) % 20 <> 0 THEN 200 ELSE 503 END, ((w.id * 7 + m * 13) % 900) + 20.5
		 FROM websites w, generate_series(0, 1439) m`,
		"VACUUM ANALYZE website_status",
		"VACUUM ANALYZE websites",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("load: %.50s: %w", q, err)
		}
	}
	// The rows went in by SQL, not through sync: build their rollups and
	// state, which status reads.
	if err := runSitestat(ctx, *bin, sitestatEnv("SITESTAT_DATABASE_URL="+dbURL), "rollup", "--rebuild"); err != nil {
		return err
	}
	var rows int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM website_status").Scan(&rows); err != nil {
		return err
	}
	logf("status: loaded %d rows for %d websites in %s", rows, *sites, time.Since(start).Round(time.Millisecond))

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	var secs []float64
	for i := range *runs {
		cmd := exec.CommandContext(ctx, *bin, "status")
		cmd.Env = sitestatEnv("SITESTAT_DATABASE_URL=" + dbURL)
		cmd.Stdout = devnull
		stderr := &limitedBuffer{}
		cmd.Stderr = stderr
		t := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("sitestat status: %w: %s", err, stderr.b)
		}
		s := time.Since(t).Seconds()
		secs = append(secs, s)
		fmt.Printf("status: run %d: %.3f s\n", i+1, s)
	}
	fmt.Printf("status_seconds=%.3f\n", median(secs))
	return nil
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 64<<10 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}
