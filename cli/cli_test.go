package cli

// Integration tests of the CLI commands against the real services, run
// in-process through runArgs. Each test has its own database and topics.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/api"
	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/kafka"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/testutil/fixture"
	"github.com/sitestat/sitestat/testutil/target"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// mustRun runs the CLI and fails the test unless it exits with want.
func mustRun(t *testing.T, env map[string]string, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runArgs(t, env, args...)
	if code != want {
		t.Fatalf("sitestat %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// migratedDB returns the env of a fresh, migrated database.
func migratedDB(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{"SITESTAT_DATABASE_URL": testenv.NewDatabase(t)}
	mustRun(t, env, exitOK, "migrate")
	return env
}

// openStore opens the database of env and closes it when the test ends.
func openStore(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, env["SITESTAT_DATABASE_URL"], store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// addSite adds a website through the CLI and returns its id.
func addSite(t *testing.T, env map[string]string, args ...string) int64 {
	t.Helper()
	out, _ := mustRun(t, env, exitOK, append([]string{"sites", "add"}, args...)...)
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || id <= 0 {
		t.Fatalf("sites add printed %q, want a website id", out)
	}
	return id
}

// result returns a valid Result of website id checked at at.
func result(id int64, at time.Time, reason contract.Reason, code int) contract.Result {
	r := fixture.Result(id)
	r.CheckedAt, r.Up, r.Reason, r.ResponseTimeMs, r.StatusCode = at.UTC(), reason == contract.ReasonOK, reason, 12, nil
	if code != 0 {
		r.StatusCode = &code
	}
	if !r.Up {
		r.Error = string(reason)
	}
	return r
}

func insertResults(t *testing.T, db *store.DB, rs ...contract.Result) {
	t.Helper()
	if _, err := db.InsertResults(context.Background(), rs); err != nil {
		t.Fatalf("insert results: %v", err)
	}
}

// plainKafka returns the PLAINTEXT options and env with topic as the results topic.
func plainKafka(t *testing.T, topic string) (kafka.Options, map[string]string) {
	t.Helper()
	brokers := testenv.Brokers(t)
	return kafka.Options{Brokers: brokers}, map[string]string{
		"SITESTAT_KAFKA_BROKERS": strings.Join(brokers, ","),
		"SITESTAT_KAFKA_TOPIC":   topic,
	}
}

// createTopics creates one-partition topics and deletes them when the test ends.
func createTopics(t *testing.T, opts kafka.Options, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var specs []kafka.TopicSpec
	for _, n := range names {
		specs = append(specs, kafka.TopicSpec{Name: n, Partitions: 1})
	}
	if _, err := kafka.CreateTopics(ctx, opts, specs); err != nil {
		t.Fatalf("create topics: %v", err)
	}
	t.Cleanup(func() { deleteTopics(t, opts, names...) })
}

func deleteTopics(t *testing.T, opts kafka.Options, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := kafka.ListTopics(ctx, opts)
	if err != nil {
		t.Logf("list topics: %v", err)
		return
	}
	var left []string
	for _, ti := range topics {
		if slices.Contains(names, ti.Name) {
			left = append(left, ti.Name)
		}
	}
	if len(left) > 0 {
		if err := kafka.DeleteTopics(ctx, opts, left); err != nil {
			t.Logf("delete topics %v: %v", left, err)
		}
	}
}

func readAll(t *testing.T, opts kafka.Options, topic string) []kafka.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := kafka.ReadAll(ctx, opts, topic, 0)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return msgs
}

// line returns the line of out that contains s, or fails.
func line(t *testing.T, out, s string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	t.Fatalf("no line contains %q in:\n%s", s, out)
	return ""
}

func TestCLIMigrate(t *testing.T) {
	env := map[string]string{"SITESTAT_DATABASE_URL": testenv.NewDatabase(t)}

	out, _ := mustRun(t, env, exitOK, "migrate", "--dry-run")
	for _, want := range []string{"would create table websites", "would create table website_status", "dry run: nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --dry-run on an empty database: output %q lacks %q", out, want)
		}
	}
	var reg *string
	if err := testenv.OpenDB(t, env["SITESTAT_DATABASE_URL"]).QueryRow(`SELECT to_regclass('websites')::text`).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		t.Errorf("migrate --dry-run created table %s", *reg)
	}

	out, _ = mustRun(t, env, exitOK, "migrate")
	if !strings.Contains(out, "create table websites") || strings.Contains(out, "up to date") {
		t.Errorf("first migrate printed %q, want it to create the tables", out)
	}
	out, _ = mustRun(t, env, exitOK, "migrate")
	if !strings.Contains(out, "up to date") {
		t.Errorf("second migrate printed %q, want \"up to date\"", out)
	}
	out, _ = mustRun(t, env, exitOK, "migrate", "--dry-run")
	if !strings.Contains(out, "up to date") {
		t.Errorf("migrate --dry-run on a migrated database printed %q, want \"up to date\"", out)
	}
}

type siteJSON struct {
	ID       int64  `json:"id"`
	URL      string `json:"url"`
	Interval int    `json:"interval_seconds"`
	Regex    string `json:"up_regex"`
}

func listSites(t *testing.T, env map[string]string) []siteJSON {
	t.Helper()
	out, _ := mustRun(t, env, exitOK, "sites", "list", "--json")
	var sites []siteJSON
	if err := json.Unmarshal([]byte(out), &sites); err != nil {
		t.Fatalf("sites list --json: %v in %q", err, out)
	}
	return sites
}

func TestCLISites(t *testing.T) {
	env := migratedDB(t)
	const url = "http://127.0.0.1:1/cli-sites"
	id := addSite(t, env, url, "--interval", "30", "--regex", "x")

	out, _ := mustRun(t, env, exitOK, "sites", "list")
	if l := line(t, out, url); !regexp.MustCompile(`^` + strconv.FormatInt(id, 10) + `\s+\S+\s+30s\s+x\s+-\s+public\s*$`).MatchString(l) {
		t.Errorf("sites list line %q, want id %d, interval 30s, regex x, no name, public", l, id)
	}
	if got, want := listSites(t, env), []siteJSON{{id, url, 30, "x"}}; !slices.Equal(got, want) {
		t.Errorf("sites list --json = %+v, want %+v", got, want)
	}

	out, _ = mustRun(t, env, exitOK, "sites", "update", strconv.FormatInt(id, 10), "--interval", "60", "--no-regex")
	if !strings.Contains(out, "updated") {
		t.Errorf("sites update printed %q", out)
	}
	if got, want := listSites(t, env), []siteJSON{{id, url, 60, ""}}; !slices.Equal(got, want) {
		t.Errorf("after update, sites list --json = %+v, want %+v", got, want)
	}

	_, stderr := mustRun(t, env, exitUsage, "sites", "update", "999", "--interval", "60")
	if !strings.Contains(stderr, "999") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("sites update 999: stderr %q, want one line naming 999", stderr)
	}

	insertResults(t, openStore(t, env), result(id, time.Now(), contract.ReasonOK, 200))
	_, stderr = mustRun(t, env, exitUsage, "sites", "remove", strconv.FormatInt(id, 10))
	if !strings.Contains(stderr, "--yes") || !strings.Contains(stderr, "1 stored results") {
		t.Errorf("sites remove of a site with results: stderr %q, want it to ask for --yes", stderr)
	}
	if got := listSites(t, env); len(got) != 1 {
		t.Fatalf("sites remove without --yes removed the site: %+v", got)
	}
	out, _ = mustRun(t, env, exitOK, "sites", "remove", strconv.FormatInt(id, 10), "--yes")
	if !strings.Contains(out, "removed 1 website") {
		t.Errorf("sites remove --yes printed %q", out)
	}
	if got := listSites(t, env); len(got) != 0 {
		t.Errorf("after remove, sites list --json = %+v, want none", got)
	}
}

func TestCLIStatus(t *testing.T) {
	env := migratedDB(t)
	up := addSite(t, env, "http://127.0.0.1:1/up")
	down := addSite(t, env, "http://127.0.0.1:1/down")
	failing := addSite(t, env, "http://127.0.0.1:1/failing")
	never := addSite(t, env, "http://127.0.0.1:1/never")
	stale := addSite(t, env, "http://127.0.0.1:1/stale")
	now := time.Now()
	insertResults(t, openStore(t, env),
		result(up, now.Add(-50*time.Second), contract.ReasonHTTPStatus, 503),
		result(up, now.Add(-20*time.Second), contract.ReasonOK, 200),
		result(stale, now.Add(-10*time.Minute), contract.ReasonOK, 200), // every 5 s: nobody checks it
		result(down, now.Add(-3*time.Minute), contract.ReasonOK, 200),
		result(down, now.Add(-2*time.Minute), contract.ReasonOK, 200),
		result(down, now.Add(-50*time.Second), contract.ReasonTimeout, 0),
		result(down, now.Add(-40*time.Second), contract.ReasonTimeout, 0),
		result(down, now.Add(-30*time.Second), contract.ReasonTimeout, 0),    // the third: an incident opens
		result(failing, now.Add(-30*time.Second), contract.ReasonTimeout, 0), // one failure: no incident
		result(up, now.Add(-48*time.Hour), contract.ReasonOK, 200),           // outside the 24h window
	)

	out, _ := mustRun(t, env, exitOK, "status")
	if l := line(t, out, "/up "); !regexp.MustCompile(`\sUP\s+200\s.*\s50\.00%\s.*\s2\s*$`).MatchString(l) {
		t.Errorf("status line of the up site: %q, want UP 200, 50.00%% uptime, 2 checks", l)
	}
	if l := line(t, out, "/down "); !regexp.MustCompile(`\sDOWN timeout\s+-\s.*\s40\.00%\s.*\s5\s*$`).MatchString(l) {
		t.Errorf("status line of the down site: %q, want DOWN timeout, no code, 40.00%% uptime, 5 checks", l)
	}
	if l := line(t, out, "/failing "); !regexp.MustCompile(`\sFAILING 1/3 timeout\s+-\s`).MatchString(l) {
		t.Errorf("status line of the site failing once: %q, want FAILING 1/3 timeout", l)
	}
	if l := line(t, out, "/never "); !regexp.MustCompile(`\sNEVER\s.*\s0\s*$`).MatchString(l) {
		t.Errorf("status line of the never-checked site: %q, want NEVER and 0 checks", l)
	}
	if l := line(t, out, "/stale "); !regexp.MustCompile(`\sSTALE 10m\s`).MatchString(l) {
		t.Errorf("status line of the stale site: %q, want STALE 10m", l)
	}
	if !strings.Contains(out, "5 websites: 1 up, 1 down, 1 failing, 1 stale, 1 never checked") {
		t.Errorf("status summary missing in %q", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("status to a non-terminal has colour codes: %q", out)
	}

	out, _ = mustRun(t, env, exitOK, "status", "--json")
	var sts []api.Site
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("status --json: %v in %q", err, out)
	}
	byID := map[int64]api.Site{}
	for _, s := range sts {
		byID[s.ID] = s
	}
	if len(sts) != 5 || len(byID) != 5 {
		t.Fatalf("status --json has %d entries, want 5: %s", len(sts), out)
	}
	if s := byID[stale]; !s.Stale || len(s.Probes) != 1 || !s.Probes[0].Stale {
		t.Errorf("status --json of the stale site: %+v", s)
	}
	if s := byID[up]; s.Up == nil || !*s.Up || s.Reason != "ok" || s.StatusCode == nil || *s.StatusCode != 200 || s.Stale ||
		s.Checks != 2 || s.UptimePct == nil || *s.UptimePct != 50 || s.AgeSeconds == nil || *s.AgeSeconds < 19 {
		t.Errorf("status --json of the up site: %+v", s)
	}
	if s := byID[down]; s.Up == nil || *s.Up || s.Reason != "timeout" || s.StatusCode != nil || s.Checks != 5 ||
		s.IncidentID == nil || len(s.Probes) != 1 || s.Probes[0].FailStreak != 3 || !s.Probes[0].Failing {
		t.Errorf("status --json of the down site: %+v", s)
	}
	if s := byID[failing]; s.IncidentID != nil || len(s.Probes) != 1 || s.Probes[0].FailStreak != 1 || s.Probes[0].Failing {
		t.Errorf("status --json of the site failing once: %+v", s)
	}
	if s := byID[never]; s.Up != nil || s.CheckedAt != nil || s.Checks != 0 || s.UptimePct != nil || s.IntervalSeconds != 5 {
		t.Errorf("status --json of the never-checked site: %+v", s)
	}
}

func TestCLITopics(t *testing.T) {
	topic := testenv.Name("cli_topics")
	opts, env := plainKafka(t, topic)
	t.Cleanup(func() { deleteTopics(t, opts, topic, topic+".dlq", topic+".heartbeats", topic+".sites") })

	out, _ := mustRun(t, env, exitOK, "topics", "create", "--partitions", "2")
	if !strings.Contains(out, topic+": created") || !strings.Contains(out, topic+".dlq: created") ||
		!strings.Contains(out, topic+".heartbeats: created") || !strings.Contains(out, topic+".sites: created") {
		t.Errorf("topics create printed %q, want the four topics created", out)
	}
	out, _ = mustRun(t, env, exitOK, "topics", "create")
	if !strings.Contains(out, topic+": exists") || !strings.Contains(out, topic+".dlq: exists") {
		t.Errorf("second topics create printed %q, want both topics to exist", out)
	}
	out, _ = mustRun(t, env, exitOK, "topics", "list")
	if l := line(t, out, topic+" "); !regexp.MustCompile(`^` + topic + `\s+2\s+1\s`).MatchString(l) {
		t.Errorf("topics list line %q, want 2 partitions, replication 1", l)
	}
	if l := line(t, out, topic+".dlq"); !strings.Contains(l, "retention.ms=2592000000") {
		t.Errorf("topics list line %q, want the dead-letter topic's 30-day retention", l)
	}
	if l := line(t, out, topic+".heartbeats"); !regexp.MustCompile(`\s1\s+1\s.*retention.ms=86400000`).MatchString(l) {
		t.Errorf("topics list line %q, want the heartbeats topic's one partition and 1-day retention", l)
	}
	if l := line(t, out, topic+".sites"); !regexp.MustCompile(`\s12\s+1\s.*cleanup.policy=compact`).MatchString(l) {
		t.Errorf("topics list line %q, want the sites topic's 12 partitions, compacted", l)
	}

	_, stderr := mustRun(t, env, exitUsage, "topics", "delete")
	if !strings.Contains(stderr, "--yes") {
		t.Errorf("topics delete without --yes: stderr %q", stderr)
	}
	out, _ = mustRun(t, env, exitOK, "topics", "delete", "--yes")
	if !strings.Contains(out, topic+": deleted") || !strings.Contains(out, topic+".dlq: deleted") ||
		!strings.Contains(out, topic+".heartbeats: deleted") || !strings.Contains(out, topic+".sites: deleted") {
		t.Errorf("topics delete --yes printed %q", out)
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		topics, err := kafka.ListTopics(context.Background(), opts)
		return err == nil && !slices.ContainsFunc(topics, func(ti kafka.TopicInfo) bool { return strings.HasPrefix(ti.Name, topic) })
	}, "topics %s and %s.dlq deleted", topic, topic)
}

func TestCLITopicsListSecure(t *testing.T) {
	topic := testenv.Name("cli_secure")
	opts, _ := plainKafka(t, topic)
	createTopics(t, opts, topic)
	ca := testenv.Var(t, "SITESTAT_TEST_CA_FILE")
	sasl := func(password string) map[string]string {
		return map[string]string{
			"SITESTAT_KAFKA_BROKERS":        testenv.Var(t, "SITESTAT_TEST_KAFKA_SASL"),
			"SITESTAT_KAFKA_CA_FILE":        ca,
			"SITESTAT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
			"SITESTAT_KAFKA_SASL_USERNAME":  testenv.Var(t, "SITESTAT_TEST_SASL_USERNAME"),
			"SITESTAT_KAFKA_SASL_PASSWORD":  password,
		}
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"ssl client certificate", map[string]string{
			"SITESTAT_KAFKA_BROKERS":   testenv.Var(t, "SITESTAT_TEST_KAFKA_SSL"),
			"SITESTAT_KAFKA_CA_FILE":   ca,
			"SITESTAT_KAFKA_CERT_FILE": testenv.Var(t, "SITESTAT_TEST_CERT_FILE"),
			"SITESTAT_KAFKA_KEY_FILE":  testenv.Var(t, "SITESTAT_TEST_KEY_FILE"),
		}},
		{"sasl scram-sha-512", sasl(testenv.Var(t, "SITESTAT_TEST_SASL_PASSWORD"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := mustRun(t, tt.env, exitOK, "topics", "list")
			line(t, out, topic)
		})
	}
	t.Run("sasl wrong password", func(t *testing.T) {
		const wrong = "not-the-password-7f3a"
		start := time.Now()
		code, out, stderr := runArgs(t, sasl(wrong), "topics", "list")
		t.Logf("failed in %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr))
		if code != exitFailure {
			t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, exitFailure, out, stderr)
		}
		if s := strings.TrimSpace(stderr); s == "" || strings.Contains(s, "\n") {
			t.Errorf("stderr is not one line: %q", stderr)
		}
		if strings.Contains(stderr+out, wrong) {
			t.Errorf("output leaks the password: %q", stderr)
		}
	})
}

func TestCLIDLQ(t *testing.T) {
	topic := testenv.Name("cli_dlq")
	dlqTopic := topic + ".dlq"
	opts, env := plainKafka(t, topic)
	createTopics(t, opts, topic, dlqTopic)

	good := result(7, time.Now(), contract.ReasonOK, 200)
	goodValue, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dls := []deadletter.Letter{
		{Key: []byte("7"), Value: goodValue, Class: "unknown_site", Error: "website 7 does not exist \x1b[2J",
			SourceTopic: topic, SourcePartition: 0, SourceOffset: 41},
		{Key: []byte("8"), Value: []byte("not json"), Class: "decode", Error: "bad message: invalid character",
			SourceTopic: topic, SourcePartition: 0, SourceOffset: 42},
	}
	w, err := deadletter.NewWriter(opts, dlqTopic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), dls); err != nil {
		t.Fatalf("produce dead letters: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	out, _ := mustRun(t, env, exitOK, "dlq", "show")
	if l := line(t, out, "unknown_site"); !strings.Contains(l, topic+"/0/41") || !strings.Contains(l, "website 7 does not exist") {
		t.Errorf("dlq show line %q, want source %s/0/41 and the error", l, topic)
	}
	line(t, out, "decode")
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("dlq show printed an escape sequence raw: %q", out)
	}
	if !strings.Contains(out, "2 dead letter(s) in "+dlqTopic) {
		t.Errorf("dlq show summary missing in %q", out)
	}

	out, _ = mustRun(t, env, exitOK, "dlq", "show", "--class", "decode", "--json")
	var shown []struct {
		Class        string          `json:"class"`
		SourceOffset int64           `json:"source_offset"`
		Key          string          `json:"key"`
		Value        json.RawMessage `json:"value"`
		RawValue     string          `json:"raw_value"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("dlq show --json: %v in %q", err, out)
	}
	if len(shown) != 1 || shown[0].Class != "decode" || shown[0].SourceOffset != 42 || shown[0].Key != "8" ||
		shown[0].RawValue != "not json" || shown[0].Value != nil {
		t.Errorf("dlq show --class decode --json = %+v", shown)
	}

	out, _ = mustRun(t, env, exitOK, "dlq", "show", "--limit", "1")
	if !strings.Contains(out, "1 dead letter(s)") || !strings.Contains(out, "stopped at --limit 1") {
		t.Errorf("dlq show --limit 1 does not say the limit cut it short: %q", out)
	}
	out, _ = mustRun(t, env, exitOK, "dlq", "show", "--class", "decode", "--limit", "1")
	if !strings.Contains(out, "1 dead letter(s)") || strings.Contains(out, "stopped at --limit") || !strings.Contains(out, "decode") {
		t.Errorf("--class must filter before --limit: %q", out)
	}
	if _, stderr := mustRun(t, env, exitUsage, "dlq", "show", "--class", "nope"); !strings.Contains(stderr, "unknown_site") {
		t.Errorf("a bad --class must list the classes: %q", stderr)
	}

	// By default only the classes a replay can fix go back, to the source topic.
	_, stderr := mustRun(t, env, exitUsage, "dlq", "replay")
	if !strings.Contains(stderr, "would replay 1") || !strings.Contains(stderr, "--yes") {
		t.Errorf("dlq replay without --yes: stderr %q", stderr)
	}
	if msgs := readAll(t, opts, topic); len(msgs) != 0 {
		t.Fatalf("dlq replay without --yes produced %d messages", len(msgs))
	}
	out, _ = mustRun(t, env, exitOK, "dlq", "replay", "--yes")
	if !strings.Contains(out, "replayed 1 dead letter(s) to "+topic) {
		t.Errorf("dlq replay --yes printed %q", out)
	}
	// A class named explicitly is replayed too.
	out, _ = mustRun(t, env, exitOK, "dlq", "replay", "--class", "decode", "--yes")
	if !strings.Contains(out, "replayed 1 dead letter(s) to "+topic) {
		t.Errorf("dlq replay --class decode --yes printed %q", out)
	}
	msgs := readAll(t, opts, topic)
	if len(msgs) != 2 {
		t.Fatalf("%s has %d messages after the replays, want 2", topic, len(msgs))
	}
	got := map[string]string{}
	for _, m := range msgs {
		got[string(m.Key)] = string(m.Value)
		if len(m.Headers) != 0 {
			t.Errorf("replayed message %s carries headers %v", m.Key, m.Headers)
		}
	}
	if got["7"] != string(goodValue) || got["8"] != "not json" {
		t.Errorf("replayed messages by key = %q, want the original values", got)
	}
	if dl := readAll(t, opts, dlqTopic); len(dl) != 2 {
		t.Errorf("the dead-letter topic has %d messages after the replay, want the 2 still there", len(dl))
	}
}

func TestCLICheckOnce(t *testing.T) {
	srv := httptest.NewServer(target.Handler())
	t.Cleanup(srv.Close)
	env := migratedDB(t)
	ok := addSite(t, env, srv.URL+"/ok", "--regex", "all good")
	bad := addSite(t, env, srv.URL+"/status/500")
	topic := testenv.Name("cli_check")
	opts, kenv := plainKafka(t, topic)
	createTopics(t, opts, topic)
	for k, v := range kenv {
		env[k] = v
	}
	env["SITESTAT_CHECK_TIMEOUT"] = "5s"
	env["SITESTAT_PROBE"] = "cli-test"

	mustRun(t, env, exitOK, "check", "--once")
	msgs := readAll(t, opts, topic)
	if len(msgs) != 2 {
		t.Fatalf("%s has %d messages after check --once, want 2", topic, len(msgs))
	}
	got := map[int64]contract.Result{}
	for _, m := range msgs {
		r, err := contract.Decode(m.Key, m.Value)
		if err != nil {
			t.Fatalf("decode %s: %v", m.Value, err)
		}
		if string(m.Key) != strconv.FormatInt(r.WebsiteID, 10) {
			t.Errorf("message key %q, website_id %d", m.Key, r.WebsiteID)
		}
		got[r.WebsiteID] = r
	}
	if r := got[ok]; !r.Up || r.Reason != contract.ReasonOK || r.RegexMatched == nil || !*r.RegexMatched || r.Probe != "cli-test" {
		t.Errorf("result of /ok: %+v", r)
	}
	if r := got[bad]; r.Up || r.Reason != contract.ReasonHTTPStatus || r.StatusCode == nil || *r.StatusCode != 500 {
		t.Errorf("result of /status/500: %+v", r)
	}
	// --once keeps random (v4) ids, checked_at the start and no lag_ms.
	for _, r := range got {
		if r.CheckID[14] != '4' || r.LagMs != nil || r.StartedAt == nil || !r.StartedAt.Equal(r.CheckedAt) {
			t.Errorf("check --once result: check_id %s, lag_ms %v, started_at %v, checked_at %v", r.CheckID, r.LagMs, r.StartedAt, r.CheckedAt)
		}
	}

	// --once reads the database: with the sites topic as source it is a usage error.
	env["SITESTAT_CHECK_SOURCE"] = "kafka"
	if _, stderr := mustRun(t, env, exitUsage, "check", "--once"); !strings.Contains(stderr, "SITESTAT_CHECK_SOURCE=db") {
		t.Errorf("check --once with the kafka source: stderr %q", stderr)
	}
}

// TestCLISitesHardening: sites add --id re-creates a removed site and is
// refused for a taken id; a costly regex is refused by add and update; URLs
// with a password and escape sequences (a row inserted by hand) are printed
// redacted and neutralised by sites list and status.
func TestCLISitesHardening(t *testing.T) {
	env := migratedDB(t)
	id := addSite(t, env, "http://127.0.0.1:1/a")
	other := addSite(t, env, "http://127.0.0.1:1/b")
	sid := strconv.FormatInt(id, 10)

	_, stderr := mustRun(t, env, exitUsage, "sites", "add", "http://127.0.0.1:1/taken", "--id", strconv.FormatInt(other, 10))
	if !strings.Contains(stderr, "id taken") || !strings.Contains(stderr, strconv.FormatInt(other, 10)) {
		t.Errorf("sites add --id of a taken id: stderr %q, want it refused naming the id", stderr)
	}
	mustRun(t, env, exitOK, "sites", "remove", sid)
	if got := addSite(t, env, "http://127.0.0.1:1/a-again", "--id", sid); got != id {
		t.Errorf("sites add --id %d printed %d", id, got)
	}
	if next := addSite(t, env, "http://127.0.0.1:1/c"); next <= other {
		t.Errorf("a later add got id %d, not past %d", next, other)
	}

	for _, args := range [][]string{
		{"sites", "add", "http://127.0.0.1:1/costly", "--regex", `(?:\w+\s+){1000}X`},
		{"sites", "update", sid, "--regex", `(?:\w+\s+){1000}X`},
	} {
		if _, stderr := mustRun(t, env, exitUsage, args...); !strings.Contains(stderr, "instructions, more than 100") {
			t.Errorf("sitestat %s: stderr %q, want the regex refused", strings.Join(args, " "), stderr)
		}
	}

	const secret = "s3cret-pw"
	hostile := "http://alice:" + secret + "@127.0.0.1:1/x\x1b[2J\x1b]0;owned\x07"
	db := openStore(t, env)
	var evil int64
	if err := db.SQL().QueryRow(`INSERT INTO websites (url, check_interval, up_regex) VALUES ($1, 5, $2) RETURNING id`,
		hostile, "ok\x1b[31m").Scan(&evil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"sites", "list"}, {"sites", "list", "--json"}, {"status"}, {"status", "--json"}} {
		out, _ := mustRun(t, env, exitOK, args...)
		if strings.Contains(out, secret) {
			t.Errorf("sitestat %s prints the password: %q", strings.Join(args, " "), out)
		}
		if strings.Contains(out, "alice") || !strings.Contains(out, "http://127.0.0.1:1/x") {
			t.Errorf("sitestat %s does not print the URL without its user info: %q", strings.Join(args, " "), out)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("sitestat %s prints raw control characters: %q", strings.Join(args, " "), out)
		}
	}
	out, _ := mustRun(t, env, exitOK, "sites", "list")
	if l := line(t, out, "127.0.0.1:1/x"); !strings.Contains(l, `\x1b[2J`) || !strings.Contains(l, `ok\x1b[31m`) {
		t.Errorf("sites list line %q, want the escapes shown as text", l)
	}
}
