package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/internal/text"
	"github.com/sitestat/sitestat/store"
)

func probesCommand() *cli.Command {
	return &cli.Command{
		Name:  "probes",
		Usage: "list the probes' latest heartbeats, or forget a probe stopped on purpose",
		Description: `Every check process produces a heartbeat to SITESTAT_KAFKA_HEARTBEAT_TOPIC every
SITESTAT_CHECK_HEARTBEAT; sync stores the latest per probe. A probe not heard
from for SITESTAT_ALERT_SILENCE gets a probe_silent incident (not while sync is
behind on that topic); its next heartbeat resolves it.`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "each probe with its last heartbeat",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					ps, err := db.Probes(c.Context)
					if err != nil {
						return err
					}
					now := time.Now()
					if c.Bool("json") {
						type probeJSON struct {
							Name        string    `json:"name"`
							Host        string    `json:"host"`
							HeartbeatAt time.Time `json:"heartbeat_at"`
							ReceivedAt  time.Time `json:"received_at"`
							AgeSeconds  float64   `json:"age_seconds"`
							Sites       int       `json:"sites"`
							Checks      int64     `json:"checks"`
							SilentID    *int64    `json:"silent_incident_id"`
						}
						out := []probeJSON{}
						for _, p := range ps {
							j := probeJSON{Name: p.Name, Host: p.Host, HeartbeatAt: p.HeartbeatAt, ReceivedAt: p.ReceivedAt,
								AgeSeconds: now.Sub(p.ReceivedAt).Seconds(), Sites: p.Sites, Checks: p.Checks}
							if p.Silent != 0 {
								j.SilentID = &p.Silent
							}
							out = append(out, j)
						}
						enc := json.NewEncoder(e.stdout)
						enc.SetIndent("", "  ")
						return enc.Encode(out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PROBE\tHOST\tLAST HEARTBEAT\tSITES\tCHECKS\tSTATE")
					for _, p := range ps {
						state := "ok"
						if p.Silent != 0 {
							state = fmt.Sprintf("SILENT (incident %d)", p.Silent)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", text.Terminal(p.Name), text.Terminal(p.Host),
							text.Ago(now.Sub(p.ReceivedAt)), p.Sites, p.Checks, state)
					}
					return tw.Flush()
				}),
			},
			{
				Name:      "forget",
				Usage:     "retire a probe stopped on purpose (resolves its probe_silent incident)",
				ArgsUsage: "NAME",
				Before: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("probes forget takes one probe name, got %d arguments", c.NArg())
					}
					return nil
				},
				Action: withDB(func(c *cli.Context, e *env, db *store.DB) error {
					name := c.Args().First()
					if err := db.ForgetProbe(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "probe %s forgotten\n", text.Terminal(name))
					return nil
				}),
			},
		},
	}
}
