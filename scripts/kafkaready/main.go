// Command kafkaready waits until a Kafka broker answers.
//
// scripts/services runs it after starting the local broker:
//
//	go run ./scripts/kafkaready -brokers 127.0.0.1:9092 -timeout 60s
//
// It retries until the deadline and exits 0 once the broker lists its topics,
// 1 on timeout. The optional TLS flags (-tls-ca, -tls-cert, -tls-key) and SASL
// flags (-sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, -sasl-username,
// -sasl-password) let it check the SSL and SASL_SSL listeners too. It
// connects through sitestat's own kafka package, as the roles do.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/kafka"
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

	cfg := config.Config{KafkaCAFile: *caFile, KafkaCertFile: *certFile, KafkaKeyFile: *keyFile, KafkaSASLMechanism: *mechanism}
	tlsCfg, err := cfg.KafkaTLS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkaready:", err)
		os.Exit(2)
	}
	opts := kafka.Options{Brokers: strings.Split(*brokers, ","), ClientID: "sitestat-kafkaready", TLS: tlsCfg,
		SASLMechanism: *mechanism, SASLUsername: *user, SASLPassword: *password}

	deadline := time.Now().Add(*timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		topics, err := kafka.ListTopics(ctx, opts)
		cancel()
		if err == nil {
			fmt.Printf("kafkaready: %s answered (%d topic(s))\n", *brokers, len(topics))
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "kafkaready: %s not ready after %s: %v\n", *brokers, *timeout, err)
			os.Exit(1)
		}
		time.Sleep(time.Second)
	}
}
