package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/testutil/testenv"
	"github.com/sitestat/sitestat/web"
)

// TestNoSecretOnAnySurface plants a user name, a password and a query secret
// in a site's URL, and markup in its reason phrase, then runs check and sync
// for real (Kafka, PostgreSQL, local webhook, Slack and PagerDuty receivers)
// and greps every surface: the alerts received, notifications.payload,
// every serve page, API answer and badge, the logs of check and sync, and the
// CLI (status, status ID, sites list, incidents). No surface holds the user
// name or the password; the public ones hold no query value either; Slack
// gets the markup escaped.
func TestNoSecretOnAnySurface(t *testing.T) {
	const (
		user, password, query = "opsuser7", "S3cretPW9", "QS3cretKey"
		phrase                = "<!channel> <https://evil.example|Sign in>"
	)
	site := hostileSite(t, "HTTP/1.1 503 "+phrase)
	rawURL := "http://" + user + ":" + password + "@" + site + "/health?key=" + query
	env := migratedDB(t)
	out, errOut := mustRun(t, env, exitOK, "sites", "add", rawURL, "--alert-after", "1")
	cli := map[string]string{"sites add": out + errOut}
	id := int64(1)
	sid := strconv.FormatInt(id, 10)

	topic := testenv.Name("cli_redact")
	opts, kenv := plainKafka(t, topic)
	createTopics(t, opts, topic, topic+".dlq", topic+".heartbeats")
	for k, v := range kenv {
		env[k] = v
	}
	hook, slack, pd := newChannelReceiver(t, http.StatusOK), newChannelReceiver(t, http.StatusOK), newChannelReceiver(t, http.StatusAccepted)
	for k, v := range map[string]string{
		"SITESTAT_LOG_LEVEL": "debug", "SITESTAT_CHECK_TIMEOUT": "5s", "SITESTAT_SYNC_GROUP": topic,
		"SITESTAT_ALERT_WEBHOOK_URL": hook.URL + "/hook", "SITESTAT_ALERT_SLACK_URL": slack.URL + "/slack",
		"SITESTAT_ALERT_PAGERDUTY_KEY": "R0UT1NGKEY0123456789abcdefabcdef", "SITESTAT_ALERT_PAGERDUTY_URL": pd.URL + "/v2/enqueue",
		"SITESTAT_ALERT_POLL": "100ms",
	} {
		env[k] = v
	}
	_, logs := mustRun(t, env, exitOK, "check", "--once")
	logs += runUntil(t, env, func() bool {
		return len(hook.got()) > 0 && len(slack.got()) > 0 && len(pd.got()) > 0
	}, "sync")

	alerts := map[string]string{"webhook": strings.Join(hook.got(), "\n"), "slack": strings.Join(slack.got(), "\n"),
		"pagerduty": strings.Join(pd.got(), "\n")}
	db := openStore(t, env)
	var payload string
	if err := db.SQL().QueryRow("SELECT string_agg(payload::text, ' ') FROM notifications").Scan(&payload); err != nil {
		t.Fatal(err)
	}
	alerts["notifications.payload"] = payload
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"status", sid}, {"status", sid, "--json"},
		{"sites", "list"}, {"sites", "list", "--json"}, {"incidents"}, {"incidents", "--json"}} {
		out, errOut := mustRun(t, env, exitOK, args...)
		cli[strings.Join(args, " ")] = out + errOut
	}
	cli["logs of check and sync"] = logs

	pages := map[string]string{}
	h := web.New(db, web.Options{PublicURLs: true})
	for _, path := range []string{"/", "/?q=health", "/sites/" + sid, "/incidents", "/api/v1/sites", "/api/v1/sites/" + sid,
		"/api/v1/sites/" + sid + "/uptime?window=24h", "/api/v1/sites/" + sid + "/checks", "/api/v1/incidents",
		"/badge/" + sid + "/status.svg", "/badge/" + sid + "/uptime/24h.svg", "/badge/" + sid + "/uptime/24h.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("serve %s: status %d", path, rec.Code)
		}
		pages["serve "+path] = rec.Body.String()
	}

	for _, surfaces := range []map[string]string{alerts, cli, pages} {
		for name, body := range surfaces {
			for _, secret := range []string{user, password} {
				if strings.Contains(body, secret) {
					t.Errorf("%s shows %q:\n%s", name, secret, body)
				}
			}
		}
	}
	for name, body := range pages {
		if strings.Contains(body, query) || strings.Contains(body, "<https://evil") || strings.Contains(body, "<!channel>") {
			t.Errorf("%s shows the query value or raw markup:\n%s", name, body)
		}
	}
	if !strings.Contains(pages["serve /"], "/health?key=…") {
		t.Errorf("serve / does not show the URL with its query masked:\n%s", pages["serve /"])
	}
	if s := alerts["slack"]; strings.Contains(s, "<!channel>") || strings.Contains(s, "<https://evil") || !strings.Contains(s, `\u0026lt;!channel\u0026gt;`) {
		t.Errorf("slack got the markup unescaped:\n%s", s)
	}
	if !strings.Contains(alerts["webhook"], site+"/health") {
		t.Errorf("webhook lacks the URL without its user info:\n%s", alerts["webhook"])
	}
}

// hostileSite listens on a local port and answers every request with the
// status line statusLine, and returns host:port.
func hostileSite(t *testing.T, statusLine string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = http.ReadRequest(bufio.NewReader(c))
				_, _ = io.WriteString(c, statusLine+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	return ln.Addr().String()
}

// runUntil runs sitestat args in-process with env until done is true (or
// fails after 60 s), then stops it and returns its log.
func runUntil(t *testing.T, env map[string]string, done func() bool, args ...string) string {
	t.Helper()
	for _, v := range config.Variables() {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, append([]string{"sitestat"}, args...), io.Discard, &stderr) }()
	testenv.Eventually(t, 60*time.Second, func() bool {
		if done() {
			return true
		}
		select {
		case code := <-exited:
			t.Fatalf("sitestat %s exited %d early; log:\n%s", strings.Join(args, " "), code, stderr.String())
		default:
		}
		return false
	}, "sitestat %s did not get there", strings.Join(args, " "))
	cancel()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("sitestat %s did not stop", strings.Join(args, " "))
	}
	return stderr.String()
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes (a log's output).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// got returns the bodies the receiver got so far.
func (rc *channelReceiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}
