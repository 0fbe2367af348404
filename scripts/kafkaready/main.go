// Command kafkaready waits until a Kafka broker answers.
//
// scripts/services runs it after starting the local broker:
//
//	go run ./scripts/kafkaready -brokers 127.0.0.1:9092 -timeout 60s
//
// It retries until the deadline and exits 0 once the broker lists its topics,
// 1 on timeout. The optional TLS flags (-tls-ca, -tls-cert, -tls-key) and SASL
// flags (-sasl-mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, -sasl-username,
// -sasl-password) let it check the SSL and SASL_SSL listeners too. With
// -cluster-size N it then waits, within the same deadline, until the
// cluster's metadata lists N brokers and no partition is under-replicated
// (what a rolling restart waits for before the next broker). It connects
// through sitestat's own kafka package, as the roles do.
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
	size := flag.Int("cluster-size", 0, "also wait until this many brokers are up and every partition is in sync")
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
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "kafkaready: %s not ready after %s: %v\n", *brokers, *timeout, err)
			os.Exit(1)
		}
		time.Sleep(time.Second)
	}
	if *size > 0 {
		waitInSync(opts, *size, deadline)
	}
}

// waitInSync waits until the cluster lists size brokers and has no
// under-replicated partition, or exits 1 at the deadline.
func waitInSync(opts kafka.Options, size int, deadline time.Time) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h, err := kafka.ClusterHealth(ctx, opts)
		cancel()
		if err == nil && h.Brokers >= size && len(h.UnderReplicated) == 0 {
			fmt.Printf("kafkaready: %d brokers, every partition in sync\n", h.Brokers)
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "kafkaready: cluster not in sync by the deadline: %d of %d brokers, under-replicated %v, err %v\n",
				h.Brokers, size, h.UnderReplicated, err)
			os.Exit(1)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
