// Command kafkaready waits until a Kafka broker answers a metadata request.
//
// scripts/services runs it after starting the local broker:
//
//	go run ./scripts/kafkaready -brokers 127.0.0.1:9092 -timeout 60s
//
// It retries until the deadline and exits 0 once metadata comes back, 1 on
// timeout. The optional TLS flags (-tls-ca, -tls-cert, -tls-key) and SASL
// flags (-sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, -sasl-username,
// -sasl-password) let it check the SSL and SASL_SSL listeners too.
package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated broker addresses")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	caFile := flag.String("tls-ca", "", "CA certificate (PEM); enables TLS")
	certFile := flag.String("tls-cert", "", "client certificate (PEM)")
	keyFile := flag.String("tls-key", "", "client private key (PEM)")
	mechanism := flag.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	user := flag.String("sasl-username", "", "SASL username")
	password := flag.String("sasl-password", "", "SASL password")
	flag.Parse()

	cfg := sarama.NewConfig()
	cfg.ClientID = "sitestat-kafkaready"
	cfg.Version = sarama.V4_0_0_0
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 0
	if err := configureSecurity(cfg, *caFile, *certFile, *keyFile, *mechanism, *user, *password); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaready:", err)
		os.Exit(2)
	}

	addrs := strings.Split(*brokers, ",")
	deadline := time.Now().Add(*timeout)
	for {
		n, err := metadata(addrs, cfg)
		if err == nil {
			fmt.Printf("kafkaready: %s answered metadata (%d broker(s))\n", *brokers, n)
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "kafkaready: %s not ready after %s: %v\n", *brokers, *timeout, err)
			os.Exit(1)
		}
		time.Sleep(time.Second)
	}
}

// metadata connects, asks for cluster metadata and returns the broker count.
func metadata(addrs []string, cfg *sarama.Config) (int, error) {
	client, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	if err := client.RefreshMetadata(); err != nil {
		return 0, err
	}
	n := len(client.Brokers())
	if n == 0 {
		return 0, fmt.Errorf("metadata lists no brokers")
	}
	return n, nil
}

func configureSecurity(cfg *sarama.Config, caFile, certFile, keyFile, mechanism, user, password string) error {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificates in %s", caFile)
		}
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if certFile != "" || keyFile != "" {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return err
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	if mechanism == "" {
		return nil
	}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.User = user
	cfg.Net.SASL.Password = password
	cfg.Net.SASL.Mechanism = sarama.SASLMechanism(mechanism)
	switch mechanism {
	case sarama.SASLTypePlaintext:
	case sarama.SASLTypeSCRAMSHA256:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.HashGeneratorFcn(sha256.New)} }
	case sarama.SASLTypeSCRAMSHA512:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.HashGeneratorFcn(sha512.New)} }
	default:
		return fmt.Errorf("unsupported SASL mechanism %q", mechanism)
	}
	return nil
}

// scramClient adapts xdg-go/scram to sarama.SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
