package cli

import (
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/kafka"
)

//nolint:funlen // a declarative command: its subcommands, flags and usage text.
func topicsCommand() *cli.Command {
	return &cli.Command{
		Name:  "topics",
		Usage: "create, list or delete the Kafka topics (results and dead letters)",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create the results, dead-letter, heartbeats and sites topics; existing topics are left as they are",
				Description: `Creates SITESTAT_KAFKA_TOPIC, SITESTAT_KAFKA_DLQ_TOPIC, SITESTAT_KAFKA_HEARTBEAT_TOPIC
(one partition, 1 day of retention: only the latest heartbeat of each probe matters) and
SITESTAT_KAFKA_SITES_TOPIC (compacted, --sites-partitions: the most check processes of
one probe that share the sites; it carries the URLs with their credentials, so
restrict it with ACLs). The partition count
bounds how many sync processes share the work. --replication-factor -1 takes the
broker's default, which works on a one-broker cluster and on Aiven (which needs
at least 2) alike.`,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "partitions", Value: kafka.DefaultPartitions, Usage: "partitions per topic"},
					&cli.IntFlag{Name: "replication-factor", Value: kafka.DefaultReplicationFactor, Usage: "replicas per partition; -1: the broker's default"},
					&cli.DurationFlag{Name: "retention", Usage: "retention.ms of the results topic (e.g. 168h); 0: the broker's default"},
					&cli.DurationFlag{Name: "dlq-retention", Value: 30 * 24 * time.Hour, Usage: "retention.ms of the dead-letter topic"},
					&cli.IntFlag{Name: "sites-partitions", Value: kafka.DefaultSitesPartitions, Usage: "partitions of the compacted sites topic (bounds the check processes per probe)"},
					&cli.Int64Flag{Name: "retention-bytes", Usage: "retention.bytes per partition of the results topic; 0: the broker's default"},
				},
				Action: func(c *cli.Context) error {
					e, opts, err := kafkaSetup(c)
					if err != nil {
						return err
					}
					if p := c.Int("partitions"); p < 1 {
						return usagef("--partitions must be at least 1")
					}
					if p := c.Int("sites-partitions"); p < 1 {
						return usagef("--sites-partitions must be at least 1")
					}
					if rf := c.Int("replication-factor"); rf == 0 || rf < -1 {
						return usagef("--replication-factor must be -1 (broker default) or at least 1")
					}
					specs := []kafka.TopicSpec{
						{Name: e.cfg.KafkaTopic, Partitions: int32(c.Int("partitions")), ReplicationFactor: int16(c.Int("replication-factor")),
							RetentionMs: c.Duration("retention").Milliseconds(), RetentionBytes: c.Int64("retention-bytes")},
						{Name: e.cfg.KafkaDLQTopic, Partitions: int32(c.Int("partitions")), ReplicationFactor: int16(c.Int("replication-factor")),
							RetentionMs: c.Duration("dlq-retention").Milliseconds()},
						{Name: e.cfg.KafkaHeartbeatTopic, Partitions: 1, ReplicationFactor: int16(c.Int("replication-factor")),
							RetentionMs: (24 * time.Hour).Milliseconds()},
						{Name: e.cfg.KafkaSitesTopic, Partitions: int32(c.Int("sites-partitions")), ReplicationFactor: int16(c.Int("replication-factor")),
							Configs: kafka.CompactedConfigs()},
					}
					res, err := kafka.CreateTopics(c.Context, opts, specs)
					if err != nil {
						return err
					}
					for _, r := range res {
						fmt.Fprintf(e.stdout, "%s: %s\n", r.Name, r.Status)
					}
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list the topics with their partitions and replication",
				Action: func(c *cli.Context) error {
					e, opts, err := kafkaSetup(c)
					if err != nil {
						return err
					}
					topics, err := kafka.ListTopics(c.Context, opts)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tCONFIG")
					for _, t := range topics {
						fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.Name, t.Partitions, t.ReplicationFactor, formatConfig(t.Config))
					}
					return tw.Flush()
				},
			},
			{
				Name:      "delete",
				Usage:     "delete topics (default: the results, dead-letter and heartbeats topics); asks for --yes",
				ArgsUsage: "[TOPIC...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "really delete; every message in them is lost"}},
				Action: func(c *cli.Context) error {
					e, opts, err := kafkaSetup(c)
					if err != nil {
						return err
					}
					names := c.Args().Slice()
					if len(names) == 0 {
						names = []string{e.cfg.KafkaTopic, e.cfg.KafkaDLQTopic, e.cfg.KafkaHeartbeatTopic, e.cfg.KafkaSitesTopic}
					}
					if !c.Bool("yes") {
						return usagef("deleting %v loses every message in them; run again with --yes", names)
					}
					if err := kafka.DeleteTopics(c.Context, opts, names); err != nil {
						return err
					}
					for _, n := range names {
						fmt.Fprintf(e.stdout, "%s: deleted\n", n)
					}
					return nil
				},
			},
		},
	}
}

func formatConfig(m map[string]string) string {
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += ","
		}
		s += k + "=" + m[k]
	}
	if s == "" {
		return "-"
	}
	return s
}
