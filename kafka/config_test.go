package kafka

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

func TestNewConfig(t *testing.T) {
	clientTLS := &tls.Config{ServerName: "kafka.example", MinVersion: tls.VersionTLS12}
	tests := []struct {
		name     string
		opts     Options
		wantTLS  bool
		wantSASL sarama.SASLMechanism
		wantSCRM bool
	}{
		{"plaintext", Options{Brokers: []string{"127.0.0.1:9092"}}, false, "", false},
		{"tls", Options{Brokers: []string{"k:9093"}, TLS: clientTLS}, true, "", false},
		{"sasl plain without tls config still uses tls", Options{Brokers: []string{"k:9094"}, SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "p"}, true, sarama.SASLTypePlaintext, false},
		{"scram-sha-256", Options{Brokers: []string{"k:9094"}, TLS: clientTLS, SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u", SASLPassword: "p"}, true, sarama.SASLTypeSCRAMSHA256, true},
		{"scram-sha-512", Options{Brokers: []string{" k:9094 "}, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}, true, sarama.SASLTypeSCRAMSHA512, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := NewConfig(tt.opts)
			if err != nil {
				t.Fatalf("NewConfig: %v", err)
			}
			if got, want := cfg.Version, sarama.V4_0_0_0; got != want {
				t.Errorf("Version = %v, want %v", got, want)
			}
			if got, want := cfg.ClientID, DefaultClientID; got != want {
				t.Errorf("ClientID = %q, want %q", got, want)
			}
			if got, want := cfg.Net.DialTimeout, 10*time.Second; got != want {
				t.Errorf("DialTimeout = %v, want %v", got, want)
			}
			if cfg.Metadata.AllowAutoTopicCreation {
				t.Error("AllowAutoTopicCreation is on")
			}
			if got := cfg.Net.TLS.Enable; got != tt.wantTLS {
				t.Errorf("TLS.Enable = %v, want %v", got, tt.wantTLS)
			}
			if tt.wantTLS && cfg.Net.TLS.Config == nil {
				t.Error("TLS on without a tls.Config")
			}
			if tt.opts.TLS != nil && cfg.Net.TLS.Config == tt.opts.TLS {
				t.Error("the caller's tls.Config is used directly, not a clone")
			}
			if tt.opts.TLS != nil && cfg.Net.TLS.Config.ServerName != tt.opts.TLS.ServerName {
				t.Error("the tls.Config clone lost its settings")
			}
			if got := cfg.Net.SASL.Enable; got != (tt.wantSASL != "") {
				t.Errorf("SASL.Enable = %v", got)
			}
			if got := cfg.Net.SASL.Mechanism; got != tt.wantSASL {
				t.Errorf("SASL.Mechanism = %q, want %q", got, tt.wantSASL)
			}
			if got := cfg.Net.SASL.SCRAMClientGeneratorFunc != nil; got != tt.wantSCRM {
				t.Errorf("SCRAM generator set = %v, want %v", got, tt.wantSCRM)
			}
		})
	}
}

func TestNewConfigClientID(t *testing.T) {
	cfg, err := NewConfig(Options{Brokers: []string{"k:1"}, ClientID: "probe-7"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ClientID, "probe-7"; got != want {
		t.Errorf("ClientID = %q, want %q", got, want)
	}
}

func TestNewConfigInvalid(t *testing.T) {
	const secret = "hunter2-very-secret"
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no brokers", Options{}, "no broker"},
		{"blank broker", Options{Brokers: []string{"a:1", " "}}, "empty broker"},
		{"unknown mechanism", Options{Brokers: []string{"a:1"}, SASLMechanism: "GSSAPI", SASLUsername: "u", SASLPassword: secret}, "unknown SASL mechanism"},
		{"lower-case mechanism", Options{Brokers: []string{"a:1"}, SASLMechanism: "scram-sha-512", SASLUsername: "u", SASLPassword: secret}, "unknown SASL mechanism"},
		{"no username", Options{Brokers: []string{"a:1"}, SASLMechanism: "PLAIN", SASLPassword: secret}, "needs a username"},
		{"no password", Options{Brokers: []string{"a:1"}, SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u"}, "needs a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConfig(tt.opts)
			if err == nil {
				t.Fatal("NewConfig succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestXDGSCRAMClient runs the adapter against xdg-go's SCRAM server.
func TestXDGSCRAMClient(t *testing.T) {
	for _, tt := range []struct {
		mech string
		hash scram.HashGeneratorFcn
	}{{SASLScramSHA256, sha256.New}, {SASLScramSHA512, sha512.New}} {
		t.Run(tt.mech, func(t *testing.T) {
			cfg, err := NewConfig(Options{Brokers: []string{"k:1"}, SASLMechanism: tt.mech, SASLUsername: "alice", SASLPassword: "right"})
			if err != nil {
				t.Fatal(err)
			}
			for _, password := range []string{"right", "wrong"} {
				stored, err := tt.hash.NewClient("alice", "right", "")
				if err != nil {
					t.Fatal(err)
				}
				creds, err := stored.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "pepper", Iters: 4096})
				if err != nil {
					t.Fatal(err)
				}
				srv, err := tt.hash.NewServer(func(user string) (scram.StoredCredentials, error) { return creds, nil })
				if err != nil {
					t.Fatal(err)
				}
				sc := srv.NewConversation()

				c := cfg.Net.SASL.SCRAMClientGeneratorFunc()
				if err := c.Begin("alice", password, ""); err != nil {
					t.Fatalf("Begin: %v", err)
				}
				var challenge string
				var stepErr error
				for i := 0; i < 4 && !c.Done() && stepErr == nil; i++ {
					var resp string
					resp, stepErr = c.Step(challenge)
					if stepErr != nil || c.Done() {
						break
					}
					challenge, stepErr = sc.Step(resp)
				}
				if password == "right" && (stepErr != nil || !sc.Valid() || !c.Done()) {
					t.Errorf("right password: err %v, server valid %v, client done %v", stepErr, sc.Valid(), c.Done())
				}
				if password == "wrong" && sc.Valid() {
					t.Error("wrong password accepted")
				}
			}
		})
	}
}

func TestNewConsumerConfig(t *testing.T) {
	cfg, err := newConsumerConfig(Options{Brokers: []string{"k:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Consumer.Offsets.Initial, sarama.OffsetOldest; got != want {
		t.Errorf("Offsets.Initial = %d, want %d", got, want)
	}
	if !cfg.Consumer.Offsets.AutoCommit.Enable || cfg.Consumer.Offsets.AutoCommit.Interval != time.Second {
		t.Errorf("AutoCommit = %+v", cfg.Consumer.Offsets.AutoCommit)
	}
	if !cfg.Consumer.Return.Errors {
		t.Error("Return.Errors is off")
	}
	if got := cfg.Consumer.Fetch.Default; got != 256<<10 {
		t.Errorf("Fetch.Default = %d, want 256 KiB", got)
	}
	var names []string
	for _, s := range cfg.Consumer.Group.Rebalance.GroupStrategies {
		names = append(names, s.Name())
	}
	if got, want := strings.Join(names, ","), "sticky,range"; got != want {
		t.Errorf("strategies = %s, want %s", got, want)
	}
}

func TestNewProducerConfig(t *testing.T) {
	cfg, err := newProducerConfig(Options{Brokers: []string{"k:1"}}, sarama.CompressionZSTD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Producer.Idempotent || cfg.Producer.RequiredAcks != sarama.WaitForAll || cfg.Net.MaxOpenRequests != 1 {
		t.Errorf("not idempotent: %v %v %v", cfg.Producer.Idempotent, cfg.Producer.RequiredAcks, cfg.Net.MaxOpenRequests)
	}
	if cfg.Producer.Retry.Max < 5 {
		t.Errorf("Retry.Max = %d", cfg.Producer.Retry.Max)
	}
	if got, want := cfg.Producer.Compression, sarama.CompressionZSTD; got != want {
		t.Errorf("Compression = %v, want %v", got, want)
	}
	if got, want := cfg.Producer.CompressionLevel, zstdFastest; got != want {
		t.Errorf("CompressionLevel = %v, want %v (zstd's fastest)", got, want)
	}
	if d := cfg.Producer.Retry.BackoffFunc(10, 6); d > 2*time.Second || d <= 0 {
		t.Errorf("backoff after 10 retries = %v", d)
	}
}

func TestCompressionCodec(t *testing.T) {
	tests := []struct {
		in   string
		want sarama.CompressionCodec
		err  bool
	}{
		{"", sarama.CompressionZSTD, false},
		{"zstd", sarama.CompressionZSTD, false},
		{"LZ4", sarama.CompressionLZ4, false},
		{"snappy", sarama.CompressionSnappy, false},
		{"gzip", sarama.CompressionGZIP, false},
		{"none", sarama.CompressionNone, false},
		{"brotli", 0, true},
	}
	for _, tt := range tests {
		got, err := compressionCodec(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("compressionCodec(%q) = %v, %v", tt.in, got, err)
		}
	}
}
