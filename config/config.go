// Package config reads sitestat's configuration from the environment, once,
// in the CLI (package cli), and checks it. Every setting is a SITESTAT_*
// variable; Usage lists them all with their defaults for --help. Nothing
// else in sitestat reads the environment: cli copies these values into each
// package's own Options.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the prefix of every variable sitestat reads.
const Prefix = "SITESTAT"

// Config is every setting, as read from the environment.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" desc:"PostgreSQL URI, e.g. Aiven's service URI postgres://avnadmin:PASSWORD@HOST:PORT/defaultdb?sslmode=require"`

	KafkaBrokers        []string `envconfig:"KAFKA_BROKERS" default:"127.0.0.1:9092" desc:"Kafka bootstrap brokers, comma separated (Aiven: the service's host:port)"`
	KafkaTopic          string   `envconfig:"KAFKA_TOPIC" default:"website-status" desc:"topic of check results"`
	KafkaDLQTopic       string   `envconfig:"KAFKA_DLQ_TOPIC" default:"<topic>.dlq" desc:"dead-letter topic for messages sync cannot store"`
	KafkaHeartbeatTopic string   `envconfig:"KAFKA_HEARTBEAT_TOPIC" default:"<topic>.heartbeats" desc:"topic of the check processes' heartbeats"`
	KafkaSitesTopic     string   `envconfig:"KAFKA_SITES_TOPIC" default:"<topic>.sites" desc:"compacted topic of the websites (key: id), published by sync with SYNC_PUBLISH_SITES, read by check with CHECK_SOURCE=kafka; it holds the URLs with their credentials: restrict it with ACLs"`
	KafkaCAFile         string   `envconfig:"KAFKA_CA_FILE" desc:"CA certificate (Aiven: ca.pem); turns TLS on"`
	KafkaCertFile       string   `envconfig:"KAFKA_CERT_FILE" desc:"client certificate (Aiven: service.cert); needs KAFKA_KEY_FILE"`
	KafkaKeyFile        string   `envconfig:"KAFKA_KEY_FILE" desc:"client private key (Aiven: service.key); needs KAFKA_CERT_FILE"`
	KafkaSASLMechanism  string   `envconfig:"KAFKA_SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; turns SASL over TLS on"`
	KafkaSASLUsername   string   `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user name"`
	KafkaSASLPassword   string   `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password (never logged)"`

	LogLevel  string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat string `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`

	Probe             string        `envconfig:"PROBE" default:"default" desc:"name of this checking location, recorded in every result; history and state are kept per probe (the host name goes in the result's host field)"`
	CheckTimeout      time.Duration `envconfig:"CHECK_TIMEOUT" default:"10s" desc:"deadline of one check (never longer than the site's interval)"`
	CheckMaxRedirects int           `envconfig:"CHECK_MAX_REDIRECTS" default:"10" desc:"redirects followed before a check fails with redirect_error; 0 follows none (the 3xx is the final status)"`
	CheckMaxBody      int64         `envconfig:"CHECK_MAX_BODY" default:"1048576" desc:"bytes of the body read and matched against up_regex (at least 1)"`
	CheckDenyPrivate  bool          `envconfig:"CHECK_DENY_PRIVATE" default:"false" desc:"refuse to connect to loopback, private, link-local, CGNAT and other special-use addresses (result reason blocked); recommended when others can add websites"`
	CheckSkipStatus   []int         `envconfig:"CHECK_SKIP_STATUS" desc:"HTTP status codes whose results are not produced, comma separated (e.g. 404)"`
	CheckConcurrency  int           `envconfig:"CHECK_CONCURRENCY" default:"512" desc:"checks in flight at once, at most"`
	CheckRefresh      time.Duration `envconfig:"CHECK_REFRESH" default:"30s" desc:"how often the websites table is reloaded"`
	CheckBuffer       int           `envconfig:"CHECK_BUFFER" default:"100000" desc:"results held for re-sending while Kafka is unreachable; past it the oldest are dropped"`
	SyncBatch         int           `envconfig:"SYNC_BATCH" default:"20000" desc:"rows written per PostgreSQL transaction, at most; when catching up, a larger batch updates each website's rollup and state rows once for more of its checks"`
	SyncMaxPending    int           `envconfig:"SYNC_MAX_PENDING" default:"120000" desc:"results held in batches across all the partitions sync reads, at most: with more partitions than SYNC_MAX_PENDING / SYNC_BATCH, batches shrink so that memory stays bounded; 0: no bound"`
	SyncFlush         time.Duration `envconfig:"SYNC_FLUSH" default:"200ms" desc:"longest a consumed result waits before its batch is written"`
	SyncDBTimeout     time.Duration `envconfig:"SYNC_DB_TIMEOUT" default:"2m" desc:"longest one database write (a batch's COPY) or lookup of sync may take before it is retried"`
	SyncMaxFuture     time.Duration `envconfig:"SYNC_MAX_FUTURE" default:"2m" desc:"how far ahead of sync's clock a result's checked_at may be; a later one goes to the dead-letter topic as bad_timestamp (it would make every real result after it late)"`
	SyncGroup         string        `envconfig:"SYNC_GROUP" default:"sitestat-sync" desc:"Kafka consumer group of sync"`
	SyncMaxMessage    int           `envconfig:"SYNC_MAX_MESSAGE" default:"65536" desc:"largest message value accepted, in bytes; larger ones go to the dead-letter topic"`
	RetentionRaw      Days          `envconfig:"RETENTION_RAW" default:"7d" desc:"how long raw check rows are kept (whole UTC days; e.g. 7d, 36h); 0 keeps them forever"`
	RetentionHourly   Days          `envconfig:"RETENTION_HOURLY" default:"90d" desc:"how long hourly rollups are kept; 0 keeps them forever"`
	RetentionDaily    Days          `envconfig:"RETENTION_DAILY" default:"730d" desc:"how long daily rollups are kept; 0 keeps them forever"`
	PruneInterval     time.Duration `envconfig:"PRUNE_INTERVAL" default:"1h" desc:"how often sync prunes history past its retention and makes the coming days' partitions (one sync process at a time)"`
	MetricsAddr       string        `envconfig:"METRICS_ADDR" desc:"serve Prometheus metrics on this address (e.g. :9187); empty: off"`

	AlertWebhookURL        string        `envconfig:"ALERT_WEBHOOK_URL" desc:"generic JSON webhook receiving every notification (never logged)"`
	AlertWebhookSecret     string        `envconfig:"ALERT_WEBHOOK_SECRET" desc:"signs webhook deliveries: HMAC-SHA256 of X-Sitestat-Timestamp \".\" body in X-Sitestat-Signature (never logged)"`
	AlertSlackURL          string        `envconfig:"ALERT_SLACK_URL" desc:"Slack or Mattermost incoming-webhook URL (a secret, never logged)"`
	AlertPagerDutyKey      string        `envconfig:"ALERT_PAGERDUTY_KEY" desc:"PagerDuty Events API v2 routing key (never logged)"`
	AlertPagerDutyURL      string        `envconfig:"ALERT_PAGERDUTY_URL" default:"https://events.pagerduty.com/v2/enqueue" desc:"PagerDuty Events API v2 endpoint"`
	AlertGiveUp            time.Duration `envconfig:"ALERT_GIVE_UP" default:"24h" desc:"a notification still failing this long after it was enqueued is marked failed"`
	AlertTimeout           time.Duration `envconfig:"ALERT_TIMEOUT" default:"10s" desc:"deadline of one delivery attempt (and of a heartbeat)"`
	AlertBackoffMin        time.Duration `envconfig:"ALERT_BACKOFF_MIN" default:"5s" desc:"first wait before a failed notification is retried; doubles per attempt"`
	AlertBackoffMax        time.Duration `envconfig:"ALERT_BACKOFF_MAX" default:"10m" desc:"longest wait between two attempts of a notification"`
	AlertPoll              time.Duration `envconfig:"ALERT_POLL" default:"500ms" desc:"how often the notification loop reads the outbox"`
	AlertHeartbeatURL      string        `envconfig:"ALERT_HEARTBEAT_URL" desc:"dead man's switch: GET while the notification loop is healthy (never logged)"`
	AlertHeartbeatInterval time.Duration `envconfig:"ALERT_HEARTBEAT_INTERVAL" default:"1m" desc:"how often SITESTAT_ALERT_HEARTBEAT_URL is requested"`
	HTTPAddr               string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"address sitestat serve listens on (the status page, JSON API and badges)"`
	HTTPBasicAuth          string        `envconfig:"HTTP_BASIC_AUTH" desc:"user:password asked by sitestat serve on every route but /healthz, /readyz and badges (never logged)"`
	HTTPPublicURLs         bool          `envconfig:"HTTP_PUBLIC_URLS" default:"true" desc:"false: sitestat serve shows websites by name or id, never their URLs, and failures by reason only (no error text)"`
	HTTPPublicQuery        bool          `envconfig:"HTTP_PUBLIC_QUERY" default:"false" desc:"true: sitestat serve shows the query values of the URLs it shows (by default ?key=…)"`
	AlertAfter             int           `envconfig:"ALERT_AFTER" default:"3" desc:"consecutive failed checks before a probe is failing (a site's --alert-after overrides it)"`
	AlertRecoverAfter      int           `envconfig:"ALERT_RECOVER_AFTER" default:"2" desc:"consecutive passed checks before a failing probe passes again (a site's --recover-after overrides it)"`
	AlertQuorum            int           `envconfig:"ALERT_QUORUM" default:"1" desc:"failing probes that make a site down (at most the probes heard from recently)"`
	AlertSilence           time.Duration `envconfig:"ALERT_SILENCE" default:"2m" desc:"a probe with no heartbeat for this long gets a probe_silent incident"`
	CheckSource            string        `envconfig:"CHECK_SOURCE" default:"db" desc:"where check reads its sites: db (the websites table) or kafka (SITESTAT_KAFKA_SITES_TOPIC, shared with the other check processes of its probe; no database needed)"`
	CheckStateDir          string        `envconfig:"CHECK_STATE_DIR" desc:"with CHECK_SOURCE=kafka: directory where check keeps its last known sites (file sites-<probe>.json, mode 0600: it holds the URLs), so that it checks them after a restart while Kafka is unreachable; empty: keep nothing"`
	CheckSessionTimeout    time.Duration `envconfig:"CHECK_SESSION_TIMEOUT" default:"10s" desc:"with CHECK_SOURCE=kafka: how long the group waits for a silent check process before its sites go to the others (the broker allows 6s..30m by default)"`
	CheckGroupHeartbeat    time.Duration `envconfig:"CHECK_GROUP_HEARTBEAT" default:"3s" desc:"with CHECK_SOURCE=kafka: how often check heartbeats to its consumer group; a stopping check keeps checking this + 2s after leaving it"`
	CheckNoSitesWarn       time.Duration `envconfig:"CHECK_NO_SITES_WARN" default:"30s" desc:"with CHECK_SOURCE=kafka: warn (once) when the whole sites topic has held no site for this long (is sync publishing it? see SYNC_PUBLISH_SITES); 0: never"`
	CheckCooperative       bool          `envconfig:"CHECK_COOPERATIVE" default:"true" desc:"with CHECK_SOURCE=kafka: rebalance with cooperative-sticky (only moved partitions pause); false: eager sticky (every process of the probe must agree)"`
	SyncPublishSites       string        `envconfig:"SYNC_PUBLISH_SITES" default:"auto" desc:"auto: sync publishes the websites table to SITESTAT_KAFKA_SITES_TOPIC once a heartbeat says a check process reads its sites from Kafka (CHECK_SOURCE=kafka); true: always; false: never (one sync at a time, under an advisory lock)"`
	SitesReconcile         time.Duration `envconfig:"SITES_RECONCILE" default:"5m" desc:"how often the sites publisher compares the whole table with the topic (changes are published at once, by LISTEN/NOTIFY)"`
	SitesLockRetry         time.Duration `envconfig:"SITES_LOCK_RETRY" default:"10s" desc:"how often a sync that does not publish the sites tries to take over, and the publisher checks it still holds the lock"`
	CheckHeartbeat         time.Duration `envconfig:"CHECK_HEARTBEAT" default:"10s" desc:"how often check produces a heartbeat to SITESTAT_KAFKA_HEARTBEAT_TOPIC"`
	AlertCertDays          int           `envconfig:"ALERT_CERT_DAYS" default:"14" desc:"open a cert_expiry incident when an https site's certificate expires within this many days; 0 turns it off"`
	ShutdownTimeout        time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"longest a graceful stop waits to flush"`
}

// Days is a duration read as a number of days ("7d"), a Go duration ("36h")
// or 0 (for ever, where the setting says so).
type Days time.Duration

// Decode parses "Nd", a Go duration, or "0"; envconfig calls it.
func (d *Days) Decode(value string) error {
	v, err := ParseDays(value)
	if err != nil {
		return err
	}
	*d = Days(v)
	return nil
}

// Duration returns d as a time.Duration.
func (d Days) Duration() time.Duration { return time.Duration(d) }

// ParseDays parses "Nd" (N whole days), any Go duration, or "0". It is also
// the syntax of `sitestat status --window`.
func ParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("%q is not a number of days (e.g. 7d)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 7d, 36h or 0)", s)
	}
	return d, nil
}

// Error is a configuration error: it names the variable at fault. Its text
// never contains a secret.
type Error struct {
	Var string // e.g. "SITESTAT_KAFKA_CA_FILE"
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

func bad(name, format string, args ...any) error {
	return &Error{Var: Prefix + "_" + name, Msg: fmt.Sprintf(format, args...)}
}

// Load reads and checks the environment. Every error is an *Error.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return c, &Error{Var: pe.KeyName, Msg: fmt.Sprintf("cannot parse %q as %s", pe.Value, pe.TypeName)}
		}
		return c, fmt.Errorf("read environment: %w", err)
	}
	if c.KafkaDLQTopic == "<topic>.dlq" {
		c.KafkaDLQTopic = c.KafkaTopic + ".dlq"
	}
	if c.KafkaHeartbeatTopic == "<topic>.heartbeats" {
		c.KafkaHeartbeatTopic = c.KafkaTopic + ".heartbeats"
	}
	if c.KafkaSitesTopic == "<topic>.sites" {
		c.KafkaSitesTopic = c.KafkaTopic + ".sites"
	}
	return c, c.check()
}

//nolint:funlen // one rule per setting, in the order of the README's configuration table.
func (c *Config) check() error {
	for i, b := range c.KafkaBrokers {
		b = strings.TrimSpace(b)
		c.KafkaBrokers[i] = b
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return bad("KAFKA_BROKERS", "%q is not host:port", b)
		}
	}
	if len(c.KafkaBrokers) == 0 {
		return bad("KAFKA_BROKERS", "is empty")
	}
	switch {
	case c.KafkaTopic == "":
		return bad("KAFKA_TOPIC", "is empty")
	case c.KafkaDLQTopic == c.KafkaTopic:
		return bad("KAFKA_DLQ_TOPIC", "must differ from SITESTAT_KAFKA_TOPIC")
	case c.KafkaHeartbeatTopic == c.KafkaTopic || c.KafkaHeartbeatTopic == c.KafkaDLQTopic:
		return bad("KAFKA_HEARTBEAT_TOPIC", "must differ from the results and dead-letter topics")
	case c.KafkaSitesTopic == "" || c.KafkaSitesTopic == c.KafkaTopic || c.KafkaSitesTopic == c.KafkaDLQTopic || c.KafkaSitesTopic == c.KafkaHeartbeatTopic:
		return bad("KAFKA_SITES_TOPIC", "must be set and differ from the results, dead-letter and heartbeats topics")
	}
	switch c.CheckSource {
	case "db", "kafka":
	default:
		return bad("CHECK_SOURCE", "%q is not db or kafka", c.CheckSource)
	}
	if err := c.checkPublishSites(); err != nil {
		return err
	}
	switch strings.ToUpper(c.KafkaSASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		c.KafkaSASLMechanism = strings.ToUpper(c.KafkaSASLMechanism)
		if c.KafkaSASLUsername == "" {
			return bad("KAFKA_SASL_USERNAME", "is required with SITESTAT_KAFKA_SASL_MECHANISM=%s", c.KafkaSASLMechanism)
		}
		if c.KafkaSASLPassword == "" {
			return bad("KAFKA_SASL_PASSWORD", "is required with SITESTAT_KAFKA_SASL_MECHANISM=%s", c.KafkaSASLMechanism)
		}
	default:
		return bad("KAFKA_SASL_MECHANISM", "unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.KafkaSASLMechanism)
	}
	if (c.KafkaCertFile == "") != (c.KafkaKeyFile == "") {
		if c.KafkaCertFile == "" {
			return bad("KAFKA_CERT_FILE", "is required with SITESTAT_KAFKA_KEY_FILE")
		}
		return bad("KAFKA_KEY_FILE", "is required with SITESTAT_KAFKA_CERT_FILE")
	}
	if _, err := c.KafkaTLS(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return bad("LOG_LEVEL", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		return bad("LOG_FORMAT", "unknown format %q (want text or json)", c.LogFormat)
	}
	// Every numeric setting: 0 either means what its description says
	// (CHECK_MAX_REDIRECTS: follow none) or is refused here, never silently
	// replaced by a default further down.
	ranges := []struct {
		name string
		ok   bool
		want string
	}{
		{"CHECK_TIMEOUT", c.CheckTimeout > 0, "must be positive"},
		{"CHECK_MAX_REDIRECTS", c.CheckMaxRedirects >= 0, "must be 0 (follow none) or more"},
		{"CHECK_MAX_BODY", c.CheckMaxBody > 0, "must be at least 1 byte"},
		{"CHECK_CONCURRENCY", c.CheckConcurrency > 0, "must be positive"},
		{"CHECK_REFRESH", c.CheckRefresh > 0, "must be positive"},
		{"CHECK_BUFFER", c.CheckBuffer > 0, "must be positive"},
		{"SYNC_BATCH", c.SyncBatch > 0, "must be positive"},
		{"SYNC_MAX_PENDING", c.SyncMaxPending >= 0, "must be 0 (no bound) or positive"},
		{"SYNC_FLUSH", c.SyncFlush > 0, "must be positive"},
		{"SYNC_DB_TIMEOUT", c.SyncDBTimeout > 0, "must be positive"},
		{"SYNC_MAX_FUTURE", c.SyncMaxFuture > 0, "must be positive"},
		{"PRUNE_INTERVAL", c.PruneInterval > 0, "must be positive"},
		{"SYNC_MAX_MESSAGE", c.SyncMaxMessage > 0, "must be positive"},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout > 0, "must be positive"},
		{"ALERT_GIVE_UP", c.AlertGiveUp > 0, "must be positive"},
		{"ALERT_TIMEOUT", c.AlertTimeout > 0, "must be positive"},
		{"ALERT_BACKOFF_MIN", c.AlertBackoffMin > 0, "must be positive"},
		{"ALERT_BACKOFF_MAX", c.AlertBackoffMax > 0, "must be positive"},
		{"ALERT_POLL", c.AlertPoll > 0, "must be positive"},
		{"ALERT_HEARTBEAT_INTERVAL", c.AlertHeartbeatInterval > 0, "must be positive"},
		{"ALERT_AFTER", c.AlertAfter > 0, "must be positive"},
		{"ALERT_RECOVER_AFTER", c.AlertRecoverAfter > 0, "must be positive"},
		{"ALERT_QUORUM", c.AlertQuorum > 0, "must be positive"},
		{"ALERT_SILENCE", c.AlertSilence > 0, "must be positive"},
		{"CHECK_HEARTBEAT", c.CheckHeartbeat > 0, "must be positive"},
		{"SITES_RECONCILE", c.SitesReconcile > 0, "must be positive"},
		{"CHECK_SESSION_TIMEOUT", c.CheckSessionTimeout > 0, "must be positive"},
		{"CHECK_GROUP_HEARTBEAT", c.CheckGroupHeartbeat > 0 && c.CheckGroupHeartbeat < c.CheckSessionTimeout, "must be positive and below SITESTAT_CHECK_SESSION_TIMEOUT"},
		{"SITES_LOCK_RETRY", c.SitesLockRetry > 0, "must be positive"},
		{"CHECK_NO_SITES_WARN", c.CheckNoSitesWarn >= 0, "must be 0 (never) or positive"},
		{"ALERT_CERT_DAYS", c.AlertCertDays >= 0, "must be 0 (off) or more"},
	}
	for _, r := range ranges {
		if !r.ok {
			return bad(r.name, "%s", r.want)
		}
	}
	for _, s := range c.CheckSkipStatus {
		if s < 100 || s > 999 {
			return bad("CHECK_SKIP_STATUS", "%d is not an HTTP status code", s)
		}
	}
	if c.SyncGroup == "" {
		return bad("SYNC_GROUP", "is empty")
	}
	if c.HTTPBasicAuth != "" {
		if user, pass, ok := strings.Cut(c.HTTPBasicAuth, ":"); !ok || user == "" || pass == "" {
			return bad("HTTP_BASIC_AUTH", "must be user:password")
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return bad("HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	}
	if c.DatabaseURL != "" {
		if err := checkDatabaseURL(c.DatabaseURL); err != nil {
			return err
		}
	}
	return c.checkAlerts()
}

// The values of Config.SyncPublishSites once checked.
const (
	PublishSitesAuto  = "auto"
	PublishSitesTrue  = "true"
	PublishSitesFalse = "false"
)

// checkPublishSites turns SYNC_PUBLISH_SITES into PublishSitesAuto,
// PublishSitesTrue or PublishSitesFalse (any spelling strconv.ParseBool
// reads, which the boolean setting of earlier releases took).
func (c *Config) checkPublishSites() error {
	v := strings.ToLower(strings.TrimSpace(c.SyncPublishSites))
	if v == PublishSitesAuto {
		c.SyncPublishSites = v
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return bad("SYNC_PUBLISH_SITES", "%q is not auto, true or false", c.SyncPublishSites)
	}
	c.SyncPublishSites = PublishSitesFalse
	if b {
		c.SyncPublishSites = PublishSitesTrue
	}
	return nil
}

// checkAlerts checks the alert settings. Its errors never repeat a URL or a
// key: webhook, Slack and heartbeat URLs are secrets.
func (c *Config) checkAlerts() error {
	if c.AlertBackoffMax < c.AlertBackoffMin {
		return bad("ALERT_BACKOFF_MAX", "must not be shorter than SITESTAT_ALERT_BACKOFF_MIN")
	}
	urls := []struct {
		name, value string
		required    bool
	}{
		{"ALERT_WEBHOOK_URL", c.AlertWebhookURL, false},
		{"ALERT_SLACK_URL", c.AlertSlackURL, false},
		{"ALERT_HEARTBEAT_URL", c.AlertHeartbeatURL, false},
		{"ALERT_PAGERDUTY_URL", c.AlertPagerDutyURL, c.AlertPagerDutyKey != ""},
	}
	for _, u := range urls {
		if u.value == "" {
			if u.required {
				return bad(u.name, "is required with SITESTAT_ALERT_PAGERDUTY_KEY")
			}
			continue
		}
		p, err := url.Parse(u.value)
		switch {
		case err != nil:
			return bad(u.name, "is not a valid URL")
		case p.Scheme != "http" && p.Scheme != "https":
			return bad(u.name, "must be an http or https URL")
		case p.Host == "":
			return bad(u.name, "has no host")
		}
	}
	if c.AlertWebhookSecret != "" && c.AlertWebhookURL == "" {
		return bad("ALERT_WEBHOOK_SECRET", "is set without SITESTAT_ALERT_WEBHOOK_URL")
	}
	if strings.TrimSpace(c.AlertPagerDutyKey) != c.AlertPagerDutyKey {
		return bad("ALERT_PAGERDUTY_KEY", "has leading or trailing spaces")
	}
	return nil
}

// checkDatabaseURL checks the form of a postgres:// URI. Its errors never
// repeat the URI, which may hold a password.
func checkDatabaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return bad("DATABASE_URL", "is not a valid URI (want postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return bad("DATABASE_URL", "scheme %q is not postgres:// (want postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require)", u.Scheme)
	}
	if u.Host == "" {
		return bad("DATABASE_URL", "has no host")
	}
	return nil
}

// RequireDatabase returns an *Error when SITESTAT_DATABASE_URL is unset.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return bad("DATABASE_URL", "is required (e.g. eval \"$(scripts/services env)\", or Aiven's service URI)")
	}
	return nil
}

// KafkaTLS builds the TLS configuration for Kafka from the CA, certificate and
// key files: nil when TLS is off. TLS is on when any of them or a SASL
// mechanism is set (Aiven serves SASL over TLS only); without a CA file the
// system's roots are trusted.
func (c Config) KafkaTLS() (*tls.Config, error) {
	if c.KafkaCAFile == "" && c.KafkaCertFile == "" && c.KafkaSASLMechanism == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.KafkaCAFile != "" {
		pem, err := os.ReadFile(c.KafkaCAFile)
		if err != nil {
			return nil, bad("KAFKA_CA_FILE", "%v", unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, bad("KAFKA_CA_FILE", "%s holds no PEM certificate", c.KafkaCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.KafkaCertFile != "" {
		for name, path := range map[string]string{"KAFKA_CERT_FILE": c.KafkaCertFile, "KAFKA_KEY_FILE": c.KafkaKeyFile} {
			if _, err := os.Stat(path); err != nil {
				return nil, bad(name, "%v", unwrapPath(err))
			}
		}
		cert, err := tls.LoadX509KeyPair(c.KafkaCertFile, c.KafkaKeyFile)
		if err != nil {
			// tls errors name the problem (no PEM data, key does not match) without key material.
			return nil, bad("KAFKA_KEY_FILE", "cannot use %s with %s: %v", c.KafkaKeyFile, c.KafkaCertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// Usage writes every variable with its default and description, for --help.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	const format = `{{range .}}   {{usage_key .}}	{{usage_default .}}	{{usage_description .}}
{{end}}`
	if err := envconfig.Usagef(Prefix, &Config{}, tw, format); err != nil {
		return err
	}
	return tw.Flush()
}

// Variables returns the name of every variable sitestat reads.
func Variables() []string {
	var b strings.Builder
	_ = envconfig.Usagef(Prefix, &Config{}, &b, "{{range .}}{{usage_key .}}\n{{end}}")
	return strings.Fields(b.String())
}
