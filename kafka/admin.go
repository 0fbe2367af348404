package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
)

// Defaults of TopicSpec.
const (
	DefaultPartitions        = 6
	DefaultReplicationFactor = -1 // the broker's default.replication.factor
	// DefaultSitesPartitions is the sites topic's partition count: the
	// most check processes of one probe that share its sites.
	DefaultSitesPartitions = 12
)

// CompactedConfigs are the settings of the compacted sites topic: only
// each site's latest record is kept, and a tombstone goes after a day (a
// checker away longer re-reads the partition from the start anyway).
func CompactedConfigs() map[string]string {
	return map[string]string{
		"cleanup.policy":            "compact",
		"delete.retention.ms":       "86400000",
		"min.compaction.lag.ms":     "0",
		"min.cleanable.dirty.ratio": "0.1",
	}
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	// Name is the topic name. Required.
	Name string
	// Partitions is the partition count; 0 means DefaultPartitions.
	Partitions int32
	// ReplicationFactor is the replica count; 0 or -1 means the broker's
	// default.replication.factor (Aiven requires at least 2).
	ReplicationFactor int16
	// RetentionMs is retention.ms; 0 means the broker's default, -1 unlimited.
	RetentionMs int64
	// RetentionBytes is retention.bytes per partition; 0 means the broker's default, -1 unlimited.
	RetentionBytes int64
	// Configs are other topic settings, e.g. "max.message.bytes" or
	// "cleanup.policy"; the fields above take precedence.
	Configs map[string]string
}

// The values of TopicResult.Status.
const (
	TopicCreated = "created"
	TopicExists  = "exists"
)

// TopicResult is what CreateTopics did for one topic.
type TopicResult struct {
	// Name is the topic name.
	Name string
	// Status is TopicCreated or TopicExists.
	Status string
}

// TopicInfo describes an existing topic.
type TopicInfo struct {
	// Name is the topic name.
	Name string
	// Partitions is the partition count.
	Partitions int32
	// ReplicationFactor is the replica count of the topic's first partition.
	ReplicationFactor int16
	// Config holds the topic's settings that differ from the broker's defaults
	// (e.g. retention.ms).
	Config map[string]string
}

// detail returns the sarama form of s with defaults applied.
func (s TopicSpec) detail() *sarama.TopicDetail {
	d := &sarama.TopicDetail{
		NumPartitions:     s.Partitions,
		ReplicationFactor: s.ReplicationFactor,
		ConfigEntries:     map[string]*string{},
	}
	for k, v := range s.Configs {
		d.ConfigEntries[k] = &v
	}
	if d.NumPartitions == 0 {
		d.NumPartitions = DefaultPartitions
	}
	if d.ReplicationFactor == 0 {
		d.ReplicationFactor = DefaultReplicationFactor
	}
	if s.RetentionMs != 0 {
		v := strconv.FormatInt(s.RetentionMs, 10)
		d.ConfigEntries["retention.ms"] = &v
	}
	if s.RetentionBytes != 0 {
		v := strconv.FormatInt(s.RetentionBytes, 10)
		d.ConfigEntries["retention.bytes"] = &v
	}
	return d
}

// CreateTopics creates the topics in specs, in order. A topic that already
// exists is not an error: its result says TopicExists (its settings are left
// as they are). It stops at the first failure and returns the results so far.
func CreateTopics(ctx context.Context, opts Options, specs []TopicSpec) ([]TopicResult, error) {
	for _, s := range specs {
		if strings.TrimSpace(s.Name) == "" {
			return nil, errors.New("kafka: create topics: empty topic name")
		}
		if s.Partitions < 0 {
			return nil, fmt.Errorf("kafka: create topic %s: partitions must be positive, got %d", s.Name, s.Partitions)
		}
	}
	var results []TopicResult
	err := withAdmin(ctx, opts, func(ca sarama.ClusterAdmin) error {
		for _, s := range specs {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := ca.CreateTopic(s.Name, s.detail(), false)
			switch {
			case err == nil:
				results = append(results, TopicResult{Name: s.Name, Status: TopicCreated})
			case errors.Is(err, sarama.ErrTopicAlreadyExists):
				results = append(results, TopicResult{Name: s.Name, Status: TopicExists})
			default:
				return opts.wrap("create topic "+s.Name, err)
			}
		}
		return nil
	})
	return results, err
}

// ListTopics returns the cluster's topics sorted by name, without Kafka's
// internal topics (those whose name starts with "__").
func ListTopics(ctx context.Context, opts Options) ([]TopicInfo, error) {
	var out []TopicInfo
	err := withAdmin(ctx, opts, func(ca sarama.ClusterAdmin) error {
		topics, err := ca.ListTopics()
		if err != nil {
			return opts.wrap("list topics", err)
		}
		for name, d := range topics {
			if strings.HasPrefix(name, "__") {
				continue
			}
			info := TopicInfo{Name: name, Partitions: d.NumPartitions, ReplicationFactor: d.ReplicationFactor, Config: map[string]string{}}
			for k, v := range d.ConfigEntries {
				if v != nil {
					info.Config[k] = *v
				}
			}
			out = append(out, info)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// AddPartitions raises topic's partition count to count (Kafka never
// lowers it): for tests and operators' scripts, as `kafka-topics --alter
// --partitions` does.
func AddPartitions(ctx context.Context, opts Options, topic string, count int32) error {
	return withAdmin(ctx, opts, func(ca sarama.ClusterAdmin) error {
		if err := ca.CreatePartitions(topic, count, nil, false); err != nil {
			return opts.wrap(fmt.Sprintf("add partitions to %s (to %d)", topic, count), err)
		}
		return nil
	})
}

// DeleteTopics deletes the named topics. A topic that does not exist is not
// an error, so deleting twice is harmless.
func DeleteTopics(ctx context.Context, opts Options, names []string) error {
	return withAdmin(ctx, opts, func(ca sarama.ClusterAdmin) error {
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := ca.DeleteTopic(name)
			if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
				return opts.wrap("delete topic "+name, err)
			}
		}
		return nil
	})
}

// withAdmin connects a cluster admin, runs fn and closes the admin. sarama's
// admin calls take no context, so when ctx ends first withAdmin returns
// ctx.Err() at once and leaves the call to finish (and close) in the background.
func withAdmin(ctx context.Context, opts Options, fn func(sarama.ClusterAdmin) error) error {
	cfg, err := NewConfig(opts)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		ca, err := sarama.NewClusterAdmin(opts.brokers(), cfg)
		if err != nil {
			done <- opts.wrap("connect", err)
			return
		}
		opts.markSeeds()
		err = fn(ca)
		if cerr := ca.Close(); cerr != nil && err == nil {
			err = opts.wrap("close admin client", cerr)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("kafka: %w", ctx.Err())
	}
}

// GroupLag returns, for each partition of topic, how many records the
// consumer group has not committed yet: the high-water mark minus the
// group's committed offset (a partition never committed counts from 0).
func GroupLag(ctx context.Context, opts Options, group, topic string) (map[int32]int64, error) {
	lag := make(map[int32]int64)
	err := withAdmin(ctx, opts, func(ca sarama.ClusterAdmin) error {
		cfg, err := NewConfig(opts)
		if err != nil {
			return err
		}
		client, err := sarama.NewClient(opts.brokers(), cfg)
		if err != nil {
			return opts.wrap("connect", err)
		}
		defer client.Close()
		opts.markClient(client)
		parts, err := client.Partitions(topic)
		if err != nil {
			return opts.wrap("partitions of "+topic, err)
		}
		resp, err := ca.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
		if err != nil {
			return opts.wrap("offsets of group "+group, err)
		}
		for _, p := range parts {
			hw, err := partitionOffset(ctx, client, topic, p, sarama.OffsetNewest)
			if err != nil {
				return opts.wrap(fmt.Sprintf("high-water mark of %s/%d", topic, p), err)
			}
			committed := int64(0)
			if b := resp.GetBlock(topic, p); b != nil && b.Offset >= 0 {
				committed = b.Offset
			}
			lag[p] = hw - committed
		}
		return nil
	})
	return lag, err
}
