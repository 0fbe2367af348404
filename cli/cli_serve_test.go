package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// TestCLIServe runs `sitestat serve` in-process: it serves with basic auth
// and hidden URLs, and stops with exit 0 when its context ends (SIGTERM); on
// a database without websites.name it exits 78 (schema drift).
func TestCLIServe(t *testing.T) {
	env := migratedDB(t)
	id := addSite(t, env, "https://secret-host.example/", "--name", "Shop")
	if out, _ := mustRun(t, env, exitOK, "sites", "list"); !strings.Contains(out, "NAME") || !strings.Contains(out, "Shop") {
		t.Errorf("sites list does not show the name:\n%s", out)
	}
	mustRun(t, env, exitOK, "sites", "update", strconv.FormatInt(id, 10), "--name", "Shop EU")
	if out, _ := mustRun(t, env, exitOK, "sites", "list", "--json"); !strings.Contains(out, `"name": "Shop EU"`) {
		t.Errorf("sites list --json does not show the new name:\n%s", out)
	}
	if code, _, errOut := runArgs(t, env, "sites", "update", strconv.FormatInt(id, 10), "--name", "a\x1bb"); code != exitUsage {
		t.Errorf("sites update --name with a control character: exit %d (%s), want 2", code, errOut)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env["SITESTAT_HTTP_ADDR"] = addr
	env["SITESTAT_HTTP_BASIC_AUTH"] = "ann:pw"
	env["SITESTAT_HTTP_PUBLIC_URLS"] = "false"
	for _, v := range config.Variables() {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"sitestat", "serve"}, io.Discard, &stderr) }()

	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if auth {
			req.SetBasicAuth("ann", "pw")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { code, _ := get("/readyz", false); return code == 200 }, "serve is not ready")
	if code, _ := get("/", false); code != http.StatusUnauthorized {
		t.Errorf("/ without credentials: %d, want 401", code)
	}
	code, body := get("/", true)
	if code != 200 || !strings.Contains(body, "Shop EU") || strings.Contains(body, "secret-host") {
		t.Errorf("/ with credentials: %d, want 200 showing the name and not the URL:\n%s", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exited %d after its context ended, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of its context ending")
	}

	db := openStore(t, env)
	if _, err := db.SQL().Exec("ALTER TABLE websites DROP COLUMN name"); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runArgs(t, env, "serve")
	if code != exitSchemaDrift || !strings.Contains(errOut, "websites.name") {
		t.Errorf("serve on a database without websites.name: exit %d, %q; want 78 naming the column", code, errOut)
	}
}
