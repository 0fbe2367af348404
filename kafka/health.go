package kafka

import (
	"context"
	"fmt"
	"sort"

	"github.com/IBM/sarama"
)

// Health is the replication state of a cluster, as its metadata says.
type Health struct {
	// Brokers is how many brokers the cluster's metadata lists (the live,
	// unfenced ones).
	Brokers int
	// UnderReplicated lists, as "topic/partition", the partitions (internal
	// topics included) that have no leader or fewer in-sync replicas than
	// replicas, sorted.
	UnderReplicated []string
}

// ClusterHealth fetches fresh metadata and returns the cluster's Health:
// `scripts/services` waits on it between the steps of a rolling restart, as
// an operator waits for no under-replicated partitions before restarting
// the next broker.
func ClusterHealth(ctx context.Context, opts Options) (Health, error) {
	cfg, err := NewConfig(opts)
	if err != nil {
		return Health{}, err
	}
	type outcome struct {
		h   Health
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		h, err := health(opts, cfg)
		done <- outcome{h, err}
	}()
	select {
	case o := <-done:
		return o.h, o.err
	case <-ctx.Done():
		return Health{}, fmt.Errorf("kafka: cluster health: %w", ctx.Err())
	}
}

// health is ClusterHealth without the context (sarama's calls take none).
func health(opts Options, cfg *sarama.Config) (Health, error) {
	client, err := sarama.NewClient(opts.brokers(), cfg)
	if err != nil {
		return Health{}, opts.wrap("connect", err)
	}
	defer client.Close()
	opts.markClient(client)
	topics, err := client.Topics()
	if err != nil {
		return Health{}, opts.wrap("list topics", err)
	}
	h := Health{Brokers: len(client.Brokers())}
	for _, topic := range topics {
		parts, err := client.Partitions(topic)
		if err != nil {
			return Health{}, opts.wrap("partitions of "+topic, err)
		}
		for _, p := range parts {
			if !partitionHealthy(client, topic, p) {
				h.UnderReplicated = append(h.UnderReplicated, fmt.Sprintf("%s/%d", topic, p))
			}
		}
	}
	sort.Strings(h.UnderReplicated)
	return h, nil
}

// partitionHealthy reports whether the partition has a leader and every
// replica in sync, according to client's metadata.
func partitionHealthy(client sarama.Client, topic string, p int32) bool {
	if _, err := client.Leader(topic, p); err != nil {
		return false
	}
	replicas, err := client.Replicas(topic, p)
	if err != nil {
		return false
	}
	isr, err := client.InSyncReplicas(topic, p)
	return err == nil && len(isr) >= len(replicas)
}
