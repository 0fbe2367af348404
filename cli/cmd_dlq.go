package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/deadletter"
	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/kafka"
)

func dlqCommand() *cli.Command {
	classFlag := &cli.StringSliceFlag{Name: "class", Usage: "only dead letters of these classes (" + deadletter.ClassNames() + "); repeat or comma-separate"}
	limitFlag := &cli.IntFlag{Name: "limit", Value: 100000, Usage: "take at most this many dead letters (after --class)"}
	return &cli.Command{
		Name:  "dlq",
		Usage: "show or replay the dead-letter topic",
		Description: `sync sends every message it cannot store to SITESTAT_KAFKA_DLQ_TOPIC with its
original key and value and headers saying why (sitestat-error, sitestat-error-class)
and where it came from (sitestat-source-topic, -partition, -offset). A value the
dead-letter topic refused for its size is kept truncated, with its size and SHA-256.`,
		Subcommands: []*cli.Command{
			{
				Name:   "show",
				Usage:  "list the dead letters: class, error, source partition/offset, site",
				Flags:  []cli.Flag{classFlag, limitFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
				Before: checkArgs(dlqFilterArgs),
				Action: func(c *cli.Context) error {
					e, opts, err := kafkaSetup(c)
					if err != nil {
						return err
					}
					return runDLQShow(c, e, opts)
				},
			},
			{
				Name:  "replay",
				Usage: "send dead letters back to the topic they came from, once their cause is fixed",
				Description: `Produces the original key and value of each dead letter to the topic recorded in its
sitestat-source-topic header (SITESTAT_KAFKA_TOPIC when it has none; --topic
overrides both), e.g. after re-adding a removed website with sites add --id.

Without --class it replays only the classes a replay can fix (unknown_site,
db_data, db_constraint): a decode or too_large letter can never be stored, and
replaying it would only add a copy to the dead-letter topic. Safe to run twice:
sync stores each check_id once. Dead letters stay in the dead-letter topic; one
that still cannot be stored comes back there.`,
				Flags: []cli.Flag{classFlag, limitFlag,
					&cli.StringFlag{Name: "topic", Usage: "replay to this topic instead of each letter's source topic"},
					&cli.BoolFlag{Name: "yes", Usage: "really produce"}},
				Before: checkArgs(dlqFilterArgs),
				Action: func(c *cli.Context) error {
					e, opts, err := kafkaSetup(c)
					if err != nil {
						return err
					}
					return runDLQReplay(c, e, opts)
				},
			},
		},
	}
}

// dlqFilter selects dead letters: by class, at most limit of them.
type dlqFilter struct {
	classes map[deadletter.Class]bool // nil: every class
	limit   int
}

func (f dlqFilter) keep(d deadletter.Letter) bool { return f.classes == nil || f.classes[d.Class] }

// dlqFilterArgs reads --class and --limit.
func dlqFilterArgs(c *cli.Context) (dlqFilter, error) {
	f := dlqFilter{limit: c.Int("limit")}
	if f.limit < 1 {
		return f, usagef("--limit must be at least 1")
	}
	for _, s := range c.StringSlice("class") {
		class, err := deadletter.ParseClass(s)
		if err != nil {
			return f, usagef("--class: %v", err)
		}
		if f.classes == nil {
			f.classes = map[deadletter.Class]bool{}
		}
		f.classes[class] = true
	}
	return f, nil
}

// readDeadLetters reads the dead-letter topic up to its end and returns the
// letters f keeps, at most f.limit, and whether the limit left some out.
func readDeadLetters(c *cli.Context, e *env, opts kafka.Options, f dlqFilter) ([]deadletter.Letter, bool, error) {
	var (
		out []deadletter.Letter
		cut bool
	)
	err := kafka.Scan(c.Context, opts, e.cfg.KafkaDLQTopic, func(r kafka.Record) bool {
		d := deadletter.Parse(r)
		if !f.keep(d) {
			return true
		}
		if len(out) == f.limit {
			cut = true
			return false
		}
		out = append(out, d)
		return true
	})
	return out, cut, err
}

func runDLQShow(c *cli.Context, e *env, opts kafka.Options) error {
	f, _ := dlqFilterArgs(c)
	dls, cut, err := readDeadLetters(c, e, opts, f)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		type dlJSON struct {
			Partition       int32            `json:"partition"`
			Offset          int64            `json:"offset"`
			Class           deadletter.Class `json:"class"`
			Error           string           `json:"error"`
			SourceTopic     string           `json:"source_topic"`
			SourcePartition int32            `json:"source_partition"`
			SourceOffset    int64            `json:"source_offset"`
			Key             string           `json:"key"`
			Value           json.RawMessage  `json:"value,omitempty"`
			RawValue        string           `json:"raw_value,omitempty"`
			Truncated       bool             `json:"truncated,omitempty"`
			OriginalSize    int64            `json:"original_size,omitempty"`
			OriginalSHA256  string           `json:"original_sha256,omitempty"`
		}
		out := make([]dlJSON, 0, len(dls))
		for _, d := range dls {
			j := dlJSON{Partition: d.Partition, Offset: d.Offset, Class: d.Class, Error: d.Error,
				SourceTopic: d.SourceTopic, SourcePartition: d.SourcePartition, SourceOffset: d.SourceOffset,
				Key: string(d.Key), Truncated: d.Truncated, OriginalSize: d.OriginalSize, OriginalSHA256: d.OriginalSHA256}
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
		fmt.Fprintf(tw, "%d/%d\t%s\t%s/%d/%d\t%s\t%s\n", d.Partition, d.Offset, d.Class,
			text.Terminal(d.SourceTopic), d.SourcePartition, d.SourceOffset, text.Truncate(text.Terminal(string(d.Key)), 20), text.Terminal(d.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d dead letter(s) in %s\n", len(dls), e.cfg.KafkaDLQTopic)
	if cut {
		fmt.Fprintf(e.stdout, "stopped at --limit %d: there are more\n", f.limit)
	}
	return nil
}

func runDLQReplay(c *cli.Context, e *env, opts kafka.Options) error {
	f, _ := dlqFilterArgs(c)
	if f.classes == nil {
		f.classes = map[deadletter.Class]bool{}
		for _, k := range deadletter.Classes {
			if k.Replayable {
				f.classes[k.Class] = true
			}
		}
	}
	dls, cut, err := readDeadLetters(c, e, opts, f)
	if err != nil {
		return err
	}
	records := make([]kafka.Record, 0, len(dls))
	truncated := 0
	for _, d := range dls {
		if d.Truncated {
			truncated++ // only its start was kept: replaying it cannot restore it
			continue
		}
		topic := c.String("topic")
		if topic == "" {
			topic = d.SourceTopic
		}
		if topic == "" {
			topic = e.cfg.KafkaTopic
		}
		records = append(records, kafka.Record{Topic: topic, Key: d.Key, Value: d.Value})
	}
	if cut {
		fmt.Fprintf(e.stdout, "stopped at --limit %d: more dead letters match; run again with a larger --limit\n", f.limit)
	}
	if truncated > 0 {
		fmt.Fprintf(e.stdout, "skipped %d truncated dead letter(s): their values were not kept whole\n", truncated)
	}
	if !c.Bool("yes") {
		return usagef("would replay %d dead letter(s) from %s; run again with --yes", len(records), e.cfg.KafkaDLQTopic)
	}
	if len(records) == 0 {
		fmt.Fprintln(e.stdout, "nothing to replay")
		return nil
	}
	if err := kafka.Produce(c.Context, opts, records); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	counts := map[string]int{}
	for _, r := range records {
		counts[r.Topic]++
	}
	for topic, n := range counts {
		fmt.Fprintf(e.stdout, "replayed %d dead letter(s) to %s\n", n, topic)
	}
	return nil
}
