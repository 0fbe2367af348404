//go:build serial

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestSerialSchemaDrift breaks copies of a migrated database and checks that
// sync refuses them (exit 78, naming table, column and the fix), and that
// after sitestat migrate sync catches up with nothing lost.
func TestSerialSchemaDrift(t *testing.T) {
	e := newEnv(t)
	tg := newTargets(t)
	for _, p := range []string{"/ok", "/status/500", "/redirect/1"} {
		e.addSite(tg.url(p), 5, "")
	}
	e.mustRun(nil, "check", "--once")
	e.mustRun(nil, "check", "--once")
	produced, _, _ := e.produced()
	if len(produced) != 6 {
		t.Fatalf("%d checks on the topic, want 6", len(produced))
	}
	// CREATE DATABASE … TEMPLATE needs no connection to the original.
	e.db.Close()
	admin := testenv.OpenDB(t, testenv.Var(t, "SITESTAT_TEST_ADMIN_DATABASE_URL"))
	orig := strings.TrimPrefix(urlPath(t, e.dbURL), "/")

	cases := []struct {
		name, breakSQL string
		mention        []string
		fix            []string
	}{
		{"drop column", `ALTER TABLE website_status DROP COLUMN request_info`,
			[]string{"website_status", "request_info", "sitestat migrate"}, []string{"migrate"}},
		{"wrong type", `ALTER TABLE website_status ALTER COLUMN status_code TYPE text`,
			[]string{"website_status", "status_code", "sitestat migrate --fix-types"}, []string{"migrate", "--fix-types"}},
		{"drop table", `DROP TABLE website_status`,
			[]string{"website_status", "sitestat migrate"}, []string{"migrate"}},
	}
	total := tally{sites: 3}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			name := testenv.Name("sitestat_e2e_copy")
			var err error
			for range 50 { // the migrate process may still be leaving
				if _, err = admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + orig); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("copy database: %v", err)
			}
			t.Cleanup(func() { testenv.DropDatabase(t, name) })
			ce := *e
			ce.t = t
			ce.dbURL = testenv.WithDatabase(t, e.dbURL, name)
			ce.group = testenv.Name("e2e_sync")
			ce.db = testenv.OpenDB(t, ce.dbURL)
			if _, err := ce.db.Exec(tc.breakSQL); err != nil {
				t.Fatalf("break the copy: %v", err)
			}

			sync := ce.start("sync", nil, "sync")
			if code := sync.wait(30 * time.Second); code != 78 {
				t.Fatalf("sync on a broken schema: exit %d, want 78", code)
			}
			var line string
			for _, l := range strings.Split(sync.output(), "\n") {
				if strings.HasPrefix(l, "sitestat: ") {
					line = l
				}
			}
			for _, m := range tc.mention {
				if !strings.Contains(line, m) {
					t.Errorf("sync's last line %q does not mention %q", line, m)
				}
			}
			if len(tc.fix) > 1 {
				// Plain migrate only reports a wrong type, with exit 78.
				if out, _, code := ce.run(nil, "migrate"); code != 78 || !strings.Contains(out, "status_code") {
					t.Errorf("migrate on a wrong type: exit %d, want 78 and a report naming the column:\n%s", code, out)
				}
			}
			ce.mustRun(nil, tc.fix...)
			sync = ce.start("sync", nil, "sync")
			c := ce.waitSynced(60 * time.Second)
			sync.stop()
			if c.rows != len(produced) {
				t.Errorf("%d rows, want %d", c.rows, len(produced))
			}
			total.checks += c.checks
			total.rows += c.rows
			total.lost += c.lost
			total.dups += c.dups
			total.faults++
		})
	}
	record(t, total)
}

func urlPath(t *testing.T, u string) string {
	t.Helper()
	i := strings.Index(u, "://")
	rest := u[i+3:]
	j := strings.Index(rest, "/")
	k := strings.IndexAny(rest, "?")
	if k < 0 {
		k = len(rest)
	}
	return rest[j:k]
}

// TestSerialRestartFaults kills sync three times mid-stream, restarts PostgreSQL
// and then the Kafka broker while check and sync run, and checks that every
// check produced is stored exactly once.
func TestSerialRestartFaults(t *testing.T) {
	services := testenv.Var(t, "SITESTAT_TEST_SERVICES")
	e := newEnv(t)
	tg := newTargets(t)
	const nSites = 20
	for i := range nSites {
		e.addSite(tg.url(fmt.Sprintf("/ok?site=%d", i)), 1, "")
	}
	check := e.start("check", nil, "check")
	sync := e.start("sync", nil, "sync")
	faults := 0
	grow := e.waitGrowth
	grow("rows before the first kill", 2*nSites)
	for i := range 3 {
		sync.kill()
		faults++
		sync = e.start(fmt.Sprintf("sync-%d", i+1), nil, "sync")
		grow(fmt.Sprintf("rows after kill %d", i+1), 2*nSites)
	}

	restart := func(svc string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		began := time.Now()
		if out, err := exec.CommandContext(ctx, services, "restart", svc).CombinedOutput(); err != nil {
			t.Fatalf("%s restart %s: %v\n%s", services, svc, err, out)
		}
		faults++
		t.Logf("%s restarted in %s", svc, time.Since(began).Round(time.Millisecond))
	}
	restart("pg")
	grow("rows after the PostgreSQL restart", 2*nSites)
	restart("kafka")
	grow("rows after the Kafka restart", 2*nSites)

	check.stop()
	c := e.waitSynced(90 * time.Second)
	sync.stop()
	if c.dups != 0 || c.lost != 0 || c.rows != c.checks {
		t.Errorf("after the faults: %+v", c)
	}
	c.sites = nSites
	c.faults = faults
	record(t, c)
}

// TestSerialPoisonMessages produces bad messages straight onto the topic
// beside valid ones: every bad one lands in the DLQ with its class and every
// valid one is stored.
func TestSerialPoisonMessages(t *testing.T) {
	e := newEnv(t)
	site := e.addSite("http://127.0.0.1:1/", 5, "")
	key := []byte(fmt.Sprint(site))
	var msgs []kafka.Record
	var valid []contract.Result
	for range 5 {
		r := newResult(site)
		valid = append(valid, r)
		msgs = append(msgs, e.resultMessage(r))
	}
	good := newResult(site)
	enc := func(r contract.Result) string { b, _ := r.Encode(); return string(b) }
	goodJSON := enc(good)
	unknown := newResult(987654)
	big := newResult(site)
	big.Error = strings.Repeat("x", 70000)
	poison := []struct {
		name  string
		class deadletter.Class
		key   []byte
		value string
	}{
		{"invalid JSON", "decode", key, `{"v":1,"check_id":`},
		{"wrong type", "decode", key, strings.Replace(goodJSON, `"website_id":`+fmt.Sprint(site), `"website_id":"`+fmt.Sprint(site)+`"`, 1)},
		{"missing field", "decode", key, strings.Replace(goodJSON, `"check_id":"`+good.CheckID+`",`, "", 1)},
		{"unknown v", "decode", key, strings.Replace(goodJSON, `"v":1`, `"v":2`, 1)},
		{"key mismatch", "decode", []byte("424242"), goodJSON},
		{"unknown site", "unknown_site", []byte("987654"), enc(unknown)},
		{"too large", "too_large", key, enc(big)},
	}
	for i, p := range poison {
		if p.value == goodJSON && p.name != "key mismatch" {
			t.Fatalf("%s: the poison is not poisonous", p.name)
		}
		m := kafka.Record{Topic: e.topic, Key: p.key, Value: []byte(p.value)}
		// Interleave the poison with the valid messages.
		msgs = append(msgs[:i%len(msgs)], append([]kafka.Record{m}, msgs[i%len(msgs):]...)...)
	}
	e.produce(msgs...)

	sync := e.start("sync", nil, "sync")
	var dead []string
	waitFor(t, 60*time.Second, "valid stored and poison in the DLQ", func() (bool, string) {
		n := e.count("")
		d := len(e.deadLetters())
		return n == len(valid) && d == len(poison), fmt.Sprintf("%d rows, %d dead letters", n, d)
	})
	sync.stop()
	for _, d := range e.deadLetters() {
		found := false
		for _, p := range poison {
			if string(d.Value) == p.value {
				found = true
				if d.Class != p.class {
					t.Errorf("%s: class %q, want %q (%s)", p.name, d.Class, p.class, d.Error)
				}
				if d.SourceTopic != e.topic || d.SourceOffset < 0 || d.Error == "" {
					t.Errorf("%s: headers %+v", p.name, d)
				}
				dead = append(dead, p.name)
			}
		}
		if !found {
			t.Errorf("unexpected dead letter %q (%s)", d.Value, d.Class)
		}
	}
	if len(dead) != len(poison) {
		t.Errorf("dead letters %v, want one of each of %d", dead, len(poison))
	}
	byID := map[string]contract.Result{}
	for _, r := range valid {
		byID[r.CheckID] = r
	}
	rows, ok := e.rows("")
	if !ok {
		t.Fatal("read rows")
	}
	c := account(byID, rows)
	c.sites = 1
	c.dlq = len(poison)
	record(t, c)
}
