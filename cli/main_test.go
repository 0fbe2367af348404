package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/sitestat/sitestat/config"
)

// version is the version the tests run the CLI with.
const version = "v0.0.0-test"

// run runs the CLI in-process as package main does, with the module's
// schema.sql (which main embeds) and the test version.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	schema, err := os.ReadFile("../schema.sql")
	if err != nil {
		panic("read ../schema.sql: " + err.Error())
	}
	return Run(ctx, args, Options{Schema: string(schema), Version: version, Stdout: stdout, Stderr: stderr})
}

// runArgs runs the app in-process with a clean SITESTAT_* environment plus env.
func runArgs(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, v := range config.Variables() {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"sitestat"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestEveryVariableIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code, help, _ := runArgs(t, nil, "--help")
	if code != exitOK {
		t.Fatalf("--help exited %d", code)
	}
	for _, v := range config.Variables() {
		if !strings.Contains(string(readme), "`"+v+"`") {
			t.Errorf("%s is in the config but not in README.md", v)
		}
		if !strings.Contains(help, v) {
			t.Errorf("%s is in the config but not in --help", v)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runArgs(t, nil, "--version")
	if code != exitOK || !strings.Contains(out, version) {
		t.Errorf("--version: exit %d, output %q; want 0 and %q", code, out, version)
	}
}

func TestUsageErrors(t *testing.T) {
	const secret = "hunter2-secret"
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"unknown command", nil, []string{"frobnicate"}, `no command "frobnicate"`},
		{"unknown flag", nil, []string{"check", "--nope"}, "flag provided but not defined"},
		{"site with ftp URL", nil, []string{"sites", "add", "ftp://example.com/"}, "http or https"},
		{"site with bad regex", nil, []string{"sites", "add", "http://example.com/", "--regex", "("}, "regex"},
		{"site with interval 0", nil, []string{"sites", "add", "http://example.com/", "--interval", "0"}, "interval"},
		{"site URL too long", nil, []string{"sites", "add", "http://example.com/" + strings.Repeat("a", 2048)}, "2048"},
		{"site with a costly regex", nil, []string{"sites", "add", "http://example.com/", "--regex", `\pL{1000}X`}, "instructions, more than 100"},
		{"site id out of range", nil, []string{"sites", "add", "http://example.com/", "--id", "0"}, "--id 0 is out of range"},
		{"site password not echoed", nil, []string{"sites", "add", "http://u:" + secret + "@exa mple.com/"}, `"http://exa mple.com/" contains a space`},
		{"update nothing", nil, []string{"sites", "update", "1"}, "nothing to change"},
		{"remove bad id", nil, []string{"sites", "remove", "x"}, "not a website id"},
		{"bad config", map[string]string{"SITESTAT_KAFKA_SASL_MECHANISM": "KERBEROS"}, []string{"topics", "list"}, "SITESTAT_KAFKA_SASL_MECHANISM"},
		{"missing database", nil, []string{"migrate"}, "SITESTAT_DATABASE_URL: is required"},
		{"malformed database URL", map[string]string{"SITESTAT_DATABASE_URL": "postgres://u:" + secret + "@h:x/db"}, []string{"status"}, "SITESTAT_DATABASE_URL"},
		{"delete without yes", nil, []string{"topics", "delete"}, "--yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d (stderr %q)", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not say %q", stderr, tt.wantErr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage") {
				t.Errorf("stderr is more than one line: %q", stderr)
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("stderr leaks the secret: %q", stderr)
			}
		})
	}
}
