package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/IBM/sarama"
	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/kafka"
)

func dlqCommand() *cli.Command {
	classFlag := &cli.StringFlag{Name: "class", Usage: "only dead letters of this class (decode, too_large, unknown_site, db_data, db_constraint)"}
	limitFlag := &cli.IntFlag{Name: "limit", Value: 100000, Usage: "read at most this many dead letters"}
	return &cli.Command{
		Name:  "dlq",
		Usage: "show or replay the dead-letter topic",
		Description: `sync sends every message it cannot store to SITESTAT_KAFKA_DLQ_TOPIC with its
original key and value and headers saying why (sitestat-error, sitestat-error-class)
and where it came from (sitestat-source-topic, -partition, -offset).`,
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "list the dead letters: class, error, source partition/offset, site",
				Flags: []cli.Flag{classFlag, limitFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
				Action: withDeadLetters(func(c *cli.Context, e *env, opts kafka.Options, dls []kafka.DeadLetter) error {
					if c.Bool("json") {
						type dlJSON struct {
							Partition       int32           `json:"partition"`
							Offset          int64           `json:"offset"`
							Class           string          `json:"class"`
							Error           string          `json:"error"`
							SourceTopic     string          `json:"source_topic"`
							SourcePartition int32           `json:"source_partition"`
							SourceOffset    int64           `json:"source_offset"`
							Key             string          `json:"key"`
							Value           json.RawMessage `json:"value,omitempty"`
							RawValue        string          `json:"raw_value,omitempty"`
						}
						out := make([]dlJSON, 0, len(dls))
						for _, d := range dls {
							j := dlJSON{d.Partition, d.Offset, d.Class, d.Error, d.SourceTopic, d.SourcePartition, d.SourceOffset, string(d.Key), nil, ""}
							if json.Valid(d.Value) {
								j.Value = d.Value
							} else {
								j.RawValue = string(d.Value)
							}
							out = append(out, j)
						}
						enc := json.NewEncoder(e.stdout)
						enc.SetIndent("", "  ")
						return enc.Encode(out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PARTITION/OFFSET\tCLASS\tSOURCE\tSITE\tERROR")
					for _, d := range dls {
						fmt.Fprintf(tw, "%d/%d\t%s\t%s/%d/%d\t%s\t%s\n", d.Partition, d.Offset, d.Class, d.SourceTopic, d.SourcePartition, d.SourceOffset, truncateURL(string(d.Key), 20), oneLine(d.Error))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%d dead letter(s) in %s\n", len(dls), e.cfg.KafkaDLQTopic)
					return nil
				}),
			},
			{
				Name:  "replay",
				Usage: "send dead letters back to the results topic, once their cause is fixed",
				Description: `Produces the original key and value of each dead letter (of --class, if given)
to SITESTAT_KAFKA_TOPIC, e.g. after re-adding a removed website. Safe to run twice:
sync stores each check_id once. Dead letters stay in the dead-letter topic; one that
still cannot be stored comes back there.`,
				Flags: []cli.Flag{classFlag, limitFlag, &cli.BoolFlag{Name: "yes", Usage: "really produce"}},
				Action: withDeadLetters(func(c *cli.Context, e *env, opts kafka.Options, dls []kafka.DeadLetter) error {
					if !c.Bool("yes") {
						return usagef("would replay %d dead letter(s) from %s to %s; run again with --yes", len(dls), e.cfg.KafkaDLQTopic, e.cfg.KafkaTopic)
					}
					if len(dls) == 0 {
						fmt.Fprintln(e.stdout, "nothing to replay")
						return nil
					}
					prod, err := kafka.NewSyncProducer(opts)
					if err != nil {
						return err
					}
					defer prod.Close()
					msgs := make([]*sarama.ProducerMessage, 0, len(dls))
					for _, d := range dls {
						m := &sarama.ProducerMessage{Topic: e.cfg.KafkaTopic, Value: sarama.ByteEncoder(d.Value)}
						if d.Key != nil {
							m.Key = sarama.ByteEncoder(d.Key)
						}
						msgs = append(msgs, m)
					}
					if err := prod.SendMessages(msgs); err != nil {
						return fmt.Errorf("replay: %s", opts.Explain(err))
					}
					fmt.Fprintf(e.stdout, "replayed %d dead letter(s) to %s\n", len(msgs), e.cfg.KafkaTopic)
					return nil
				}),
			},
		},
	}
}

// withDeadLetters wraps a dlq action: it reads the configuration and the
// dead letters (filtered by --class) and hands both to the action.
func withDeadLetters(action func(c *cli.Context, e *env, opts kafka.Options, dls []kafka.DeadLetter) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		e, opts, err := kafkaSetup(c)
		if err != nil {
			return err
		}
		dls, err := readDeadLetters(c, e, opts)
		if err != nil {
			return err
		}
		return action(c, e, opts, dls)
	}
}

// readDeadLetters reads the dead-letter topic up to its end, filtered by --class.
func readDeadLetters(c *cli.Context, e *env, opts kafka.Options) ([]kafka.DeadLetter, error) {
	if c.Int("limit") < 1 {
		return nil, usagef("--limit must be at least 1")
	}
	msgs, err := kafka.ReadAll(c.Context, opts, e.cfg.KafkaDLQTopic, c.Int("limit"))
	if err != nil {
		return nil, err
	}
	var out []kafka.DeadLetter
	for _, m := range msgs {
		d := kafka.ParseDeadLetter(m)
		if class := c.String("class"); class != "" && d.Class != class {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}
