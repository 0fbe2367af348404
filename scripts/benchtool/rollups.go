package main

import "fmt"

// rollupSeed returns the statements that give every website of a fresh
// database a state now (one website in 50 down), daily rollups of 1,440
// checks for today and the days before it, hourly ones of 60 checks for
// the current hour and the hours before it, and rollup_fold where sync's
// merge of hours into days would have left it; then VACUUM ANALYZE. The
// daily rows count their failures' reasons when reasons is set.
func rollupSeed(days, hours int, reasons bool) []string {
	dailyReasons := "'{}'"
	if reasons {
		dailyReasons = "CASE WHEN (w.id + d) % 20 = 0 THEN '{}' ELSE jsonb_build_object('http_status', (w.id + d) % 20) END"
	}
	return []string{
		`INSERT INTO site_probe_state (website_id, probe, checked_at, check_id, up, reason, status_code, response_time_ms)
		 SELECT id, 'default', now() - make_interval(secs => id % 60), gen_random_uuid(), id % 50 <> 0,
		        CASE WHEN id % 50 <> 0 THEN 'ok' ELSE 'timeout' END, CASE WHEN id % 50 <> 0 THEN 200 END, 120 FROM websites`,
		// set_config: website_status_daily refuses writers older than schema version 3.
		fmt.Sprintf(`SELECT set_config('sitestat.writer_version', '3', true);
		 INSERT INTO website_status_daily (website_id, probe, day, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist)
		 SELECT w.id, 'default', (now() AT TIME ZONE 'UTC')::date - d, 1440, 1440 - (w.id + d) %% 20,
		        %s, 1440, 1440 * 150.0, 20, 2000, h.hist
		 FROM websites w, generate_series(0, %d) d,
		      LATERAL (SELECT array_agg(((60 + b)::bigint << 32) | (10 + (b * 7 + w.id) %% 90) ORDER BY b) AS hist
		               FROM generate_series(0, 24) b) h`, dailyReasons, days),
		fmt.Sprintf(`INSERT INTO website_status_hourly (website_id, probe, hour, checks, up_checks, reasons, rt_count, rt_sum, rt_min, rt_max, rt_hist)
		 SELECT w.id, 'default', date_trunc('hour', now(), 'UTC') - make_interval(hours => hr), 60, 60 - (w.id + hr) %% 3,
		        '{}', 60, 60 * 150.0, 20, 2000, h.hist
		 FROM websites w, generate_series(0, %d) hr,
		      LATERAL (SELECT array_agg(((60 + b)::bigint << 32) | (1 + (b + w.id) %% 5) ORDER BY b) AS hist
		               FROM generate_series(0, 12) b) h`, hours),
		// The hours that ended over an hour ago are in the daily rows.
		"UPDATE rollup_fold SET folded_hour = date_trunc('hour', now(), 'UTC') - interval '1 hour'",
		"VACUUM ANALYZE",
	}
}
