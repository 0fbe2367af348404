// Package kafka is sitestat's edge to Apache Kafka, built on
// github.com/IBM/sarama: the client configuration for plain, TLS
// (client-certificate, as Aiven gives it) and SASL_SSL brokers; error messages
// a user can act on (Explain); topic administration; the producer of
// `sitestat check`, which keeps results across broker outages; the clients
// `sitestat sync` uses (NewConsumerGroup, NewSyncProducer); and the
// dead-letter helpers shared by sync and `sitestat dlq`.
//
// The package never reads the environment: every function takes an Options
// value built by the caller.
package kafka

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// DefaultClientID is the client id sent to the brokers when Options.ClientID is empty.
const DefaultClientID = "sitestat"

// The SASL mechanisms Options.SASLMechanism accepts ("" turns SASL off).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Options says how to reach and authenticate to a Kafka cluster.
type Options struct {
	// Brokers are the bootstrap addresses, host:port. At least one is required.
	Brokers []string
	// ClientID is sent to the brokers; empty means DefaultClientID.
	ClientID string
	// TLS, when not nil, turns TLS on with this configuration (CA, and the
	// client certificate for Aiven's default client-certificate auth). It is
	// built and validated by the caller. When it is nil TLS is off, unless SASL
	// is on: SASL is only ever used over TLS here (Aiven's SASL listener is
	// SASL_SSL), so SASL with a nil TLS uses TLS with the system roots.
	TLS *tls.Config
	// SASLMechanism is "" (no SASL), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	// SASLUsername is the SASL user; required when SASLMechanism is set.
	SASLUsername string
	// SASLPassword is the SASL password. It never appears in an error or a log line.
	SASLPassword string
	// Reached, when not nil, records the broker addresses this process has
	// completed a connection with, so that a broker going away later is not
	// explained as a protocol mismatch (see Reached). nil: every connection
	// failure is explained as if the address had never worked.
	Reached *Reached
}

// Validate reports the first problem with o, or nil.
func (o Options) Validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka: no broker address given")
	}
	for _, b := range o.Brokers {
		if strings.TrimSpace(b) == "" {
			return errors.New("kafka: empty broker address in the broker list")
		}
	}
	switch o.SASLMechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if o.SASLUsername == "" {
			return fmt.Errorf("kafka: SASL mechanism %s needs a username", o.SASLMechanism)
		}
		if o.SASLPassword == "" {
			return fmt.Errorf("kafka: SASL mechanism %s needs a password (user %q)", o.SASLMechanism, o.SASLUsername)
		}
	default:
		return fmt.Errorf("kafka: unknown SASL mechanism %q (want %s, %s or %s)", o.SASLMechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	return nil
}

// brokers returns the broker list with surrounding spaces removed.
func (o Options) brokers() []string {
	out := make([]string, 0, len(o.Brokers))
	for _, b := range o.Brokers {
		out = append(out, strings.TrimSpace(b))
	}
	return out
}

// NewConfig returns the sarama configuration shared by every client of this
// package: protocol version, TLS, SASL, timeouts and metadata refresh. The
// producer and consumer constructors refine it. The returned configuration
// holds the password (sarama needs it); it is never printed.
func NewConfig(opts Options) (*sarama.Config, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cfg := sarama.NewConfig()
	// An upper bound: sarama asks each broker for its API versions and
	// negotiates down, so this also talks to Kafka 2.1 … 3.x brokers.
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = opts.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}

	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Net.ReadTimeout = 30 * time.Second
	cfg.Net.WriteTimeout = 30 * time.Second
	cfg.Net.KeepAlive = 30 * time.Second

	switch {
	case opts.TLS != nil:
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = opts.TLS.Clone()
	case opts.SASLMechanism != "":
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	if opts.SASLMechanism != "" {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.Version = sarama.SASLHandshakeV1
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(opts.SASLMechanism)
		cfg.Net.SASL.User = opts.SASLUsername
		cfg.Net.SASL.Password = opts.SASLPassword
		switch opts.SASLMechanism {
		case SASLScramSHA256:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient {
				return &XDGSCRAMClient{HashGeneratorFcn: sha256.New}
			}
		case SASLScramSHA512:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient {
				return &XDGSCRAMClient{HashGeneratorFcn: sha512.New}
			}
		}
	}

	// Metadata: a few quick retries that ride out a leader election, so a
	// misconfiguration or a dead cluster is reported in about a second (the
	// Producer and the consumer group have their own longer retry loops for
	// outages), a bounded total, and a periodic refresh that notices new
	// partitions and moved leaders.
	cfg.Metadata.Retry.Max = 3
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Metadata.Timeout = 30 * time.Second
	cfg.Metadata.RefreshFrequency = 2 * time.Minute
	// Topics are created on purpose (sitestat topics create), never as a
	// side effect of a metadata request with a mistyped name.
	cfg.Metadata.AllowAutoTopicCreation = false

	cfg.Admin.Timeout = 30 * time.Second
	cfg.Admin.Retry.Max = 5
	cfg.Admin.Retry.Backoff = 500 * time.Millisecond

	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: invalid client configuration: %w", err)
	}
	return cfg, nil
}

// XDGSCRAMClient adapts github.com/xdg-go/scram to sarama.SCRAMClient, as in
// sarama's examples/sasl_scram_client.
type XDGSCRAMClient struct {
	*scram.Client
	*scram.ClientConversation
	scram.HashGeneratorFcn
}

// Begin starts a SCRAM conversation for the user.
func (x *XDGSCRAMClient) Begin(userName, password, authzID string) error {
	c, err := x.HashGeneratorFcn.NewClient(userName, password, authzID)
	if err != nil {
		// Never wrap err with the password: xdg-go only reports SASLprep failures.
		return fmt.Errorf("scram: prepare credentials for user %q: %w", userName, err)
	}
	x.Client = c
	x.ClientConversation = c.NewConversation()
	return nil
}

// Step answers the server's challenge.
func (x *XDGSCRAMClient) Step(challenge string) (string, error) {
	return x.ClientConversation.Step(challenge)
}

// Done reports whether the conversation is complete.
func (x *XDGSCRAMClient) Done() bool {
	return x.ClientConversation.Done()
}
