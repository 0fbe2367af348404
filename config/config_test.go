package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a self-signed certificate and its PKCS#8 key into dir
// under the given base name and returns their paths.
func writeKeyPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".cert")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range Variables() {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.KafkaTopic, "website-status"; got != want {
		t.Errorf("topic = %q, want %q", got, want)
	}
	if got, want := c.KafkaDLQTopic, "website-status.dlq"; got != want {
		t.Errorf("dlq topic = %q, want %q", got, want)
	}
	if got, want := c.CheckTimeout, 10*time.Second; got != want {
		t.Errorf("check timeout = %v, want %v", got, want)
	}
	if got, want := c.SyncFlush, 200*time.Millisecond; got != want {
		t.Errorf("sync flush = %v, want %v", got, want)
	}
	if got, want := c.AlertGiveUp, 24*time.Hour; got != want {
		t.Errorf("alert give-up = %v, want %v", got, want)
	}
	if got, want := c.AlertHeartbeatInterval, time.Minute; got != want {
		t.Errorf("alert heartbeat interval = %v, want %v", got, want)
	}
	if got, want := c.AlertPagerDutyURL, "https://events.pagerduty.com/v2/enqueue"; got != want {
		t.Errorf("pagerduty URL = %q, want %q", got, want)
	}
	if c.RetentionRaw.Duration() != 7*24*time.Hour || c.RetentionHourly.Duration() != 90*24*time.Hour ||
		c.RetentionDaily.Duration() != 730*24*time.Hour {
		t.Errorf("retention = %v %v %v, want 7d 90d 730d", c.RetentionRaw.Duration(), c.RetentionHourly.Duration(), c.RetentionDaily.Duration())
	}
	if c.Probe != "default" {
		t.Errorf("probe = %q, want default", c.Probe)
	}
	if tlsCfg, err := c.KafkaTLS(); err != nil || tlsCfg != nil {
		t.Errorf("KafkaTLS() = %v, %v; want nil, nil for plaintext", tlsCfg, err)
	}
	if err := c.RequireDatabase(); err == nil {
		t.Error("RequireDatabase() = nil without SITESTAT_DATABASE_URL")
	}
}

// TestPublishSites: SITESTAT_SYNC_PUBLISH_SITES is auto by default, and
// the boolean spellings of earlier releases still force it.
func TestPublishSites(t *testing.T) {
	for _, tt := range []struct{ value, want string }{
		{"", PublishSitesAuto}, {"auto", PublishSitesAuto}, {"AUTO", PublishSitesAuto},
		{"true", PublishSitesTrue}, {"1", PublishSitesTrue}, {"TRUE", PublishSitesTrue},
		{"false", PublishSitesFalse}, {"0", PublishSitesFalse}, {"f", PublishSitesFalse},
	} {
		clearEnv(t)
		if tt.value != "" {
			t.Setenv("SITESTAT_SYNC_PUBLISH_SITES", tt.value)
		}
		c, err := Load()
		if err != nil || c.SyncPublishSites != tt.want {
			t.Errorf("SITESTAT_SYNC_PUBLISH_SITES=%q: %q, %v; want %q", tt.value, c.SyncPublishSites, err, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeKeyPair(t, dir, "a")
	_, keyB := writeKeyPair(t, dir, "b")
	notPEM := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-Pa55"
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string
	}{
		{"missing CA file", map[string]string{"SITESTAT_KAFKA_CA_FILE": filepath.Join(dir, "nope.pem")}, "SITESTAT_KAFKA_CA_FILE", "no such file"},
		{"CA file without PEM", map[string]string{"SITESTAT_KAFKA_CA_FILE": notPEM}, "SITESTAT_KAFKA_CA_FILE", "no PEM certificate"},
		{"cert without key", map[string]string{"SITESTAT_KAFKA_CERT_FILE": certA}, "SITESTAT_KAFKA_KEY_FILE", "required"},
		{"key without cert", map[string]string{"SITESTAT_KAFKA_KEY_FILE": keyA}, "SITESTAT_KAFKA_CERT_FILE", "required"},
		{"missing key file", map[string]string{"SITESTAT_KAFKA_CERT_FILE": certA, "SITESTAT_KAFKA_KEY_FILE": filepath.Join(dir, "nope.key")}, "SITESTAT_KAFKA_KEY_FILE", "no such file"},
		{"unreadable key", map[string]string{"SITESTAT_KAFKA_CERT_FILE": certA, "SITESTAT_KAFKA_KEY_FILE": notPEM}, "SITESTAT_KAFKA_KEY_FILE", "cannot use"},
		{"cert key mismatch", map[string]string{"SITESTAT_KAFKA_CERT_FILE": certA, "SITESTAT_KAFKA_KEY_FILE": keyB}, "SITESTAT_KAFKA_KEY_FILE", "does not match"},
		{"unknown mechanism", map[string]string{"SITESTAT_KAFKA_SASL_MECHANISM": "GSSAPI", "SITESTAT_KAFKA_SASL_USERNAME": "u", "SITESTAT_KAFKA_SASL_PASSWORD": secret}, "SITESTAT_KAFKA_SASL_MECHANISM", "unknown mechanism"},
		{"SASL without password", map[string]string{"SITESTAT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "SITESTAT_KAFKA_SASL_USERNAME": "u"}, "SITESTAT_KAFKA_SASL_PASSWORD", "required"},
		{"malformed database URL", map[string]string{"SITESTAT_DATABASE_URL": "postgres://avnadmin:" + secret + "@host:port/db"}, "SITESTAT_DATABASE_URL", "not a valid URI"},
		{"wrong database scheme", map[string]string{"SITESTAT_DATABASE_URL": "mysql://u:" + secret + "@h:1/db"}, "SITESTAT_DATABASE_URL", "not postgres://"},
		{"broker without port", map[string]string{"SITESTAT_KAFKA_BROKERS": "localhost"}, "SITESTAT_KAFKA_BROKERS", "not host:port"},
		{"bad duration", map[string]string{"SITESTAT_CHECK_TIMEOUT": "ten"}, "SITESTAT_CHECK_TIMEOUT", "cannot parse"},
		{"zero concurrency", map[string]string{"SITESTAT_CHECK_CONCURRENCY": "0"}, "SITESTAT_CHECK_CONCURRENCY", "positive"},
		{"bad skip status", map[string]string{"SITESTAT_CHECK_SKIP_STATUS": "404,42"}, "SITESTAT_CHECK_SKIP_STATUS", "not an HTTP status"},
		{"bad retention", map[string]string{"SITESTAT_RETENTION_RAW": "7days"}, "SITESTAT_RETENTION_RAW", "cannot parse"},
		{"negative retention", map[string]string{"SITESTAT_RETENTION_HOURLY": "-1d"}, "SITESTAT_RETENTION_HOURLY", "cannot parse"},
		{"bad log format", map[string]string{"SITESTAT_LOG_FORMAT": "xml"}, "SITESTAT_LOG_FORMAT", "unknown format"},
		{"same topics", map[string]string{"SITESTAT_KAFKA_TOPIC": "a", "SITESTAT_KAFKA_DLQ_TOPIC": "a"}, "SITESTAT_KAFKA_DLQ_TOPIC", "differ"},
		{"slack URL not http", map[string]string{"SITESTAT_ALERT_SLACK_URL": "hooks.slack.com/services/" + secret}, "SITESTAT_ALERT_SLACK_URL", "http or https"},
		{"webhook URL malformed", map[string]string{"SITESTAT_ALERT_WEBHOOK_URL": "https://h:port/" + secret}, "SITESTAT_ALERT_WEBHOOK_URL", "not a valid URL"},
		{"heartbeat URL without host", map[string]string{"SITESTAT_ALERT_HEARTBEAT_URL": "https:///" + secret}, "SITESTAT_ALERT_HEARTBEAT_URL", "no host"},
		{"webhook secret alone", map[string]string{"SITESTAT_ALERT_WEBHOOK_SECRET": secret}, "SITESTAT_ALERT_WEBHOOK_SECRET", "without"},
		{"pagerduty key with empty endpoint", map[string]string{"SITESTAT_ALERT_PAGERDUTY_KEY": secret, "SITESTAT_ALERT_PAGERDUTY_URL": ""}, "SITESTAT_ALERT_PAGERDUTY_URL", "required"},
		{"backoff max below min", map[string]string{"SITESTAT_ALERT_BACKOFF_MIN": "1m", "SITESTAT_ALERT_BACKOFF_MAX": "1s"}, "SITESTAT_ALERT_BACKOFF_MAX", "shorter"},
		{"zero give-up", map[string]string{"SITESTAT_ALERT_GIVE_UP": "0s"}, "SITESTAT_ALERT_GIVE_UP", "positive"},
		{"publish sites neither", map[string]string{"SITESTAT_SYNC_PUBLISH_SITES": "sometimes"}, "SITESTAT_SYNC_PUBLISH_SITES", "not auto, true or false"},
		{"negative no-sites warning", map[string]string{"SITESTAT_CHECK_NO_SITES_WARN": "-1s"}, "SITESTAT_CHECK_NO_SITES_WARN", "0 (never) or positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load() error = %v, want *config.Error", err)
			}
			if ce.Var != tt.wantVar {
				t.Errorf("error names %s, want %s (%v)", ce.Var, tt.wantVar, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not say %q", msg, tt.wantMsg)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
				t.Errorf("error %q leaks the secret or spans lines", msg)
			}
		})
	}
}

func TestLoadTLS(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir, "service")
	t.Setenv("SITESTAT_KAFKA_CA_FILE", cert)
	t.Setenv("SITESTAT_KAFKA_CERT_FILE", cert)
	t.Setenv("SITESTAT_KAFKA_KEY_FILE", key)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	cfg, err := c.KafkaTLS()
	if err != nil || cfg == nil {
		t.Fatalf("KafkaTLS() = %v, %v", cfg, err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Errorf("TLS config has RootCAs=%v and %d certificates, want a pool and 1", cfg.RootCAs != nil, len(cfg.Certificates))
	}
}

func TestSASLTurnsTLSOn(t *testing.T) {
	clearEnv(t)
	t.Setenv("SITESTAT_KAFKA_SASL_MECHANISM", "scram-sha-512")
	t.Setenv("SITESTAT_KAFKA_SASL_USERNAME", "u")
	t.Setenv("SITESTAT_KAFKA_SASL_PASSWORD", "p")
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.KafkaSASLMechanism != "SCRAM-SHA-512" {
		t.Errorf("mechanism = %q, want it upper-cased", c.KafkaSASLMechanism)
	}
	if cfg, err := c.KafkaTLS(); err != nil || cfg == nil {
		t.Errorf("KafkaTLS() = %v, %v; want TLS on with SASL", cfg, err)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b strings.Builder
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	vars := Variables()
	if len(vars) < 20 {
		t.Fatalf("Variables() = %d names, want every setting", len(vars))
	}
	for _, v := range vars {
		if !strings.HasPrefix(v, "SITESTAT_") {
			t.Errorf("variable %s lacks the SITESTAT_ prefix", v)
		}
		if !strings.Contains(b.String(), v) {
			t.Errorf("Usage does not list %s", v)
		}
	}
	if !strings.Contains(b.String(), "website-status") {
		t.Error("Usage does not show defaults")
	}
}

// TestZeroValues sets each numeric variable to 0: it either means what its
// description says or is refused with an error naming the variable, never
// silently the default. A numeric setting missing from the table fails the
// test, so a new one gets reviewed too.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string                     // "" when 0 is accepted
		check   func(c Config) (bool, any) // with 0 accepted: ok, and the value seen
	}{
		{"SITESTAT_CHECK_TIMEOUT", "must be positive", nil},
		{"SITESTAT_CHECK_MAX_REDIRECTS", "", func(c Config) (bool, any) { return c.CheckMaxRedirects == 0, c.CheckMaxRedirects }},
		{"SITESTAT_CHECK_MAX_BODY", "at least 1", nil},
		{"SITESTAT_CHECK_SKIP_STATUS", "not an HTTP status", nil},
		{"SITESTAT_CHECK_CONCURRENCY", "must be positive", nil},
		{"SITESTAT_CHECK_REFRESH", "must be positive", nil},
		{"SITESTAT_CHECK_BUFFER", "must be positive", nil},
		{"SITESTAT_SYNC_BATCH", "must be positive", nil},
		{"SITESTAT_SYNC_FLUSH", "must be positive", nil},
		{"SITESTAT_SYNC_DB_TIMEOUT", "must be positive", nil},
		{"SITESTAT_SYNC_MAX_FUTURE", "must be positive", nil},
		{"SITESTAT_PRUNE_INTERVAL", "must be positive", nil},
		{"SITESTAT_SYNC_MAX_MESSAGE", "must be positive", nil},
		{"SITESTAT_SHUTDOWN_TIMEOUT", "must be positive", nil},
		{"SITESTAT_ALERT_GIVE_UP", "must be positive", nil},
		{"SITESTAT_ALERT_TIMEOUT", "must be positive", nil},
		{"SITESTAT_ALERT_BACKOFF_MIN", "must be positive", nil},
		{"SITESTAT_ALERT_BACKOFF_MAX", "must be positive", nil},
		{"SITESTAT_ALERT_POLL", "must be positive", nil},
		{"SITESTAT_ALERT_HEARTBEAT_INTERVAL", "must be positive", nil},
		{"SITESTAT_ALERT_AFTER", "must be positive", nil},
		{"SITESTAT_ALERT_RECOVER_AFTER", "must be positive", nil},
		{"SITESTAT_ALERT_QUORUM", "must be positive", nil},
		{"SITESTAT_ALERT_SILENCE", "must be positive", nil},
		{"SITESTAT_CHECK_HEARTBEAT", "must be positive", nil},
		{"SITESTAT_SITES_RECONCILE", "must be positive", nil},
		{"SITESTAT_CHECK_SESSION_TIMEOUT", "must be positive", nil},
		{"SITESTAT_CHECK_GROUP_HEARTBEAT", "must be positive and below SITESTAT_CHECK_SESSION_TIMEOUT", nil},
		{"SITESTAT_SITES_LOCK_RETRY", "must be positive", nil},
		{"SITESTAT_ALERT_CERT_DAYS", "", func(c Config) (bool, any) { return c.AlertCertDays == 0, c.AlertCertDays }},
		{"SITESTAT_RETENTION_RAW", "", func(c Config) (bool, any) { return c.RetentionRaw == 0, c.RetentionRaw }},
		{"SITESTAT_RETENTION_HOURLY", "", func(c Config) (bool, any) { return c.RetentionHourly == 0, c.RetentionHourly }},
		{"SITESTAT_RETENTION_DAILY", "", func(c Config) (bool, any) { return c.RetentionDaily == 0, c.RetentionDaily }},
		{"SITESTAT_SYNC_MAX_PENDING", "", func(c Config) (bool, any) { return c.SyncMaxPending == 0, c.SyncMaxPending }},
		{"SITESTAT_CHECK_NO_SITES_WARN", "", func(c Config) (bool, any) { return c.CheckNoSitesWarn == 0, c.CheckNoSitesWarn }},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.name, "0")
			c, err := Load()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load() with %s=0: %v, want 0 accepted", tt.name, err)
				}
				if ok, got := tt.check(c); !ok {
					t.Errorf("%s=0 gives %v, not what its description says", tt.name, got)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tt.name || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load() with %s=0: %v, want an error naming it and saying %q", tt.name, err, tt.wantErr)
			}
		})
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		switch k := f.Type.Kind(); {
		case k >= reflect.Int && k <= reflect.Float64, k == reflect.Slice && f.Type.Elem().Kind() == reflect.Int:
			if name := Prefix + "_" + f.Tag.Get("envconfig"); !tested[name] {
				t.Errorf("numeric setting %s is not in the table: decide what 0 means", name)
			}
		}
	}
}

func TestParseDays(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true}, {"7d", 7 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true}, {"90d", 90 * 24 * time.Hour, true},
		{"1.5d", 0, false}, {"-2d", 0, false}, {"d", 0, false}, {"week", 0, false}, {"-1h", 0, false},
	} {
		got, err := ParseDays(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDays(%q) = %v, %v; want %v, ok %t", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
