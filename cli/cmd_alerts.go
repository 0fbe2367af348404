package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/notify"
)

func alertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "alerts",
		Usage: "check the notification channels",
		Subcommands: []*cli.Command{
			{
				Name:  "test",
				Usage: "send a test notification through every configured channel and print each result",
				Description: `Sends one test notification, directly (not through the outbox), to each of
SITESTAT_ALERT_WEBHOOK_URL, SITESTAT_ALERT_SLACK_URL and SITESTAT_ALERT_PAGERDUTY_KEY
that is set, within SITESTAT_ALERT_TIMEOUT each. PagerDuty gets a trigger of
severity info and its resolve at once, so no alert stays open. Receivers are
shown as scheme://host: their URLs and keys are secrets. Needs no database.

Exits 0 when every channel accepted it, 1 when one did not, 2 when none is set.`,
				Action: func(c *cli.Context) error {
					e, err := setup(c)
					if err != nil {
						return err
					}
					senders := alertSenders(e.cfg, e.userAgent)
					if len(senders) == 0 {
						return usagef("no notification channel is configured: set SITESTAT_ALERT_WEBHOOK_URL, SITESTAT_ALERT_SLACK_URL or SITESTAT_ALERT_PAGERDUTY_KEY")
					}
					b := make([]byte, 6)
					_, _ = rand.Read(b)
					key := "test-" + hex.EncodeToString(b)
					failed := 0
					for _, s := range senders {
						ctx, cancel := context.WithTimeout(c.Context, e.cfg.AlertTimeout)
						start := time.Now()
						err := notify.Test(ctx, s, key)
						cancel()
						took := time.Since(start).Round(time.Millisecond)
						if err != nil {
							failed++
							fmt.Fprintf(e.stdout, "%-9s  %s  failed after %s: %s\n", s.Channel(), s.Receiver(), took, oneLine(err.Error()))
							continue
						}
						fmt.Fprintf(e.stdout, "%-9s  %s  ok (%s)\n", s.Channel(), s.Receiver(), took)
					}
					if failed > 0 {
						return fmt.Errorf("alerts test: %d of %d channels failed", failed, len(senders))
					}
					return nil
				},
			},
		},
	}
}
