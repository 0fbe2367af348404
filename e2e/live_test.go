//go:build serial

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSerialIntervals runs `sitestat check` for about 20 s over sites at
// 1 s, 2 s and 5 s and counts their rows.
func TestSerialIntervals(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	intervals := []int{1, 2, 5}
	ids := map[int]int64{}
	for _, iv := range intervals {
		ids[iv] = e.addSite(tg.url("/ok"), iv, "")
	}
	sync := e.start("sync", nil, "sync")
	check := e.start("check", nil, "check")
	began := time.Now()
	// Wait for the first check of the 1 s site: the run starts there.
	waitFor(t, 20*time.Second, "first row", func() (bool, string) {
		n := e.count("WHERE website_id = $1", ids[1])
		return n > 0, fmt.Sprint(n)
	})
	time.Sleep(20*time.Second - time.Since(began)) // the run's length, not an assertion
	check.stop()
	ran := time.Since(began)
	c := e.waitSynced(30 * time.Second)
	sync.stop()

	secs := ran.Seconds()
	tolerance := map[int]float64{1: 3, 2: 2, 5: 1}
	for _, iv := range intervals {
		n := e.count("WHERE website_id = $1", ids[iv])
		want := secs / float64(iv)
		if float64(n) < want-tolerance[iv] || float64(n) > want+tolerance[iv] {
			t.Errorf("site at %d s: %d rows in %.1f s, want %.1f±%.0f", iv, n, secs, want, tolerance[iv])
		} else {
			t.Logf("site at %d s: %d rows in %.1f s", iv, n, secs)
		}
	}
	c.sites = len(intervals)
	record(t, c)
}

// TestSerialLiveChanges adds, updates and removes sites with the binary while
// `sitestat check` runs; each change takes effect without a restart.
func TestSerialLiveChanges(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	keep := e.addSite(tg.url("/ok"), 1, "")
	slow := e.addSite(tg.url("/ok"), 5, "")
	doomed := e.addSite(tg.url("/ok"), 1, "")
	sync := e.start("sync", nil, "sync")
	check := e.start("check", nil, "check")

	rowsOf := func(id int64, where string, args ...any) int {
		return e.count("WHERE website_id = $1 "+where, append([]any{id}, args...)...)
	}
	atLeast := func(what string, id int64, n int, where string, args ...any) {
		t.Helper()
		waitFor(t, 20*time.Second, what, func() (bool, string) {
			got := rowsOf(id, where, args...)
			return got >= n, fmt.Sprintf("%d rows, want %d", got, n)
		})
	}

	// Add a site with the binary: it is checked every second.
	added := e.addSiteCLI(tg.url("/ok"), "--interval", "1", "--regex", "all good")
	atLeast("the added site is checked", added, 3, "AND reason = 'ok'")

	// Change its regex: later checks are regex_mismatch, none ok.
	e.mustRun(nil, "sites", "update", strconv.FormatInt(added, 10), "--regex", "nomatch")
	atLeast("the new regex applies", added, 1, "AND reason = 'regex_mismatch'")
	var firstMismatch time.Time
	if err := e.db.QueryRow(`SELECT min(timestamp_utc) FROM website_status WHERE website_id = $1 AND reason = 'regex_mismatch'`, added).Scan(&firstMismatch); err != nil {
		t.Fatal(err)
	}
	atLeast("more checks with the new regex", added, 3, "AND timestamp_utc >= $2", firstMismatch)
	if n := rowsOf(added, "AND timestamp_utc > $2 AND reason <> 'regex_mismatch'", firstMismatch); n != 0 {
		t.Errorf("%d rows of site %d are not regex_mismatch after the update", n, added)
	}

	// Change an interval from 5 s to 1 s.
	changed := time.Now()
	e.mustRun(nil, "sites", "update", strconv.FormatInt(slow, 10), "--interval", "1")
	waitFor(t, 10*time.Second, "the 1 s interval applies", func() (bool, string) {
		n := rowsOf(slow, "AND timestamp_utc > $2", changed)
		return n >= 4, fmt.Sprintf("%d rows since the update", n)
	})

	// Remove a site that has rows: its rows go (ON DELETE CASCADE), no new
	// rows come, and its results still in flight go to the DLQ.
	atLeast("the doomed site has rows", doomed, 2, "")
	e.mustRun(nil, "sites", "remove", strconv.FormatInt(doomed, 10), "--yes")
	removed := time.Now()
	// A result of it produced after the removal, as a checker that has not
	// reloaded yet would; then a second one once the first is dead.
	late := newResult(doomed)
	e.produce(e.resultMessage(late))
	waitDLQ := func(checkID string) string {
		var class string
		waitFor(t, 20*time.Second, "late result in the DLQ", func() (bool, string) {
			for _, d := range e.deadLetters() {
				if string(d.Key) == strconv.FormatInt(doomed, 10) && containsCheck(d.Value, checkID) {
					class = string(d.Class)
					return true, ""
				}
			}
			return false, "not there"
		})
		return class
	}
	class := waitDLQ(late.CheckID)
	t.Logf("first late result of the removed site: dead letter class %s", class)
	if class != "unknown_site" {
		t.Errorf("late result of a removed site: class %q, want unknown_site", class)
	}
	later := newResult(doomed)
	e.produce(e.resultMessage(later))
	if class := waitDLQ(later.CheckID); class != "unknown_site" {
		t.Errorf("second late result of a removed site: class %q, want unknown_site", class)
	}
	// Sync is not stuck: the kept site still gets rows after all that.
	mark := time.Now()
	atLeast("sync goes on after the removal", keep, 1, "AND timestamp_utc > $2", mark)
	if n := rowsOf(doomed, ""); n != 0 {
		t.Errorf("removed site %d has %d rows", doomed, n)
	}

	check.stop()
	// Every check of the sites still there is stored once.
	byID, _, _ := e.produced()
	for id, r := range byID {
		if r.WebsiteID == doomed {
			delete(byID, id)
		}
	}
	var c tally
	waitFor(t, 30*time.Second, "every check of the live sites stored", func() (bool, string) {
		rows, ok := e.rows("")
		if !ok {
			return false, "cannot read rows"
		}
		c = account(byID, rows)
		return c.lost == 0 && c.rows == c.checks, fmt.Sprintf("%+v", c)
	})
	c.lost += e.checkerLost()

	// The README's recovery: re-add the removed site under its old id, then
	// replay; its dead-lettered results are stored, each once.
	e.mustRun(nil, "sites", "add", "--id", strconv.FormatInt(doomed, 10), tg.url("/ok"))
	out := e.mustRun(nil, "dlq", "replay", "--yes")
	if !strings.Contains(out, "replayed") || !strings.Contains(out, e.topic) {
		t.Errorf("dlq replay --yes printed %q, want it replayed to %s", out, e.topic)
	}
	waitFor(t, 30*time.Second, "the replayed results of the re-added site stored", func() (bool, string) {
		rows, _ := e.rows("WHERE website_id = $1", doomed)
		got := map[string]bool{}
		for _, r := range rows {
			got[r.checkID] = true
		}
		return got[late.CheckID] && got[later.CheckID] && len(got) == len(rows),
			fmt.Sprintf("%d rows of site %d", len(rows), doomed)
	})
	e.mustRun(nil, "dlq", "replay", "--yes") // twice is harmless
	sync.stop()
	dead := e.deadLetters()
	for _, d := range dead {
		if string(d.Key) != strconv.FormatInt(doomed, 10) {
			t.Errorf("dead letter of site %s (%s): %s", d.Key, d.Class, d.Error)
		}
	}
	t.Logf("removed at %s; %d results of the removed site in the DLQ", removed.Format(time.TimeOnly), len(dead))
	c.dlq = len(dead)
	c.sites = 4
	record(t, c)
}

// containsCheck reports whether a message value carries checkID.
func containsCheck(value []byte, checkID string) bool {
	return checkID != "" && strings.Contains(string(value), `"check_id":"`+checkID+`"`)
}
