// Package cli is sitestat's command line: the commands and their flags,
// output formatting, and the wiring of the configuration (read once, here)
// into the plain options of the packages each role runs. It maps every
// error to one line on stderr and an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/config"
	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
)

// Options is what package main hands down.
type Options struct {
	Schema  string    // schema.sql, applied by migrate
	Version string    // the build's version (--version, the User-Agent)
	Stdout  io.Writer // command output
	Stderr  io.Writer // logs and error lines
}

// Exit codes, also listed in the README.
const (
	exitOK          = 0
	exitFailure     = 1  // a runtime failure (service unreachable, producing failed)
	exitUsage       = 2  // bad flags, arguments or configuration; nothing was done
	exitSchemaDrift = 78 // EX_CONFIG: the database schema is not what sync writes; run sitestat migrate
)

// Run runs the command line args (args[0] is the program's name) until it
// is done or ctx ends, and turns its error into one line on stderr and the
// process exit code.
func Run(ctx context.Context, args []string, o Options) int {
	app := newApp(o)
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil || errors.Is(err, errStopped) {
		return exitOK
	}
	fmt.Fprintln(o.Stderr, "sitestat: "+oneLine(err.Error()))
	return exitCode(err)
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ce *config.Error
	var ue usageError
	var ec cli.ExitCoder
	switch {
	case errors.Is(err, schema.ErrDrift):
		return exitSchemaDrift
	case errors.As(err, &ce), errors.As(err, &ue),
		errors.Is(err, store.ErrInvalidSite), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidWindow):
		return exitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return exitFailure
}

// usageError is a mistake in the command line: exit code 2, nothing done.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func newApp(o Options) *cli.App {
	var vars strings.Builder
	_ = config.Usage(&vars)
	app := &cli.App{
		Name:    "sitestat",
		Usage:   "website availability monitor: checks → Kafka → PostgreSQL",
		Version: o.Version,
		Description: `Roles, chosen at launch:
   check    on edge hosts: GET every website on its interval, produce results to Kafka
   sync     on a database-side host: store results from Kafka in PostgreSQL, effectively once
   migrate  in CI or by hand: create or repair the schema (and convert a version 1 database)
   prune    drop history older than its retention (sync's periodic pass, once)
   topics   create, list or delete the Kafka topics
   alerts   test the notification channels (webhook, Slack, PagerDuty)
   serve    the status page, a JSON API and badges over HTTP (read-only)

Configuration comes from the environment (defaults shown):
` + vars.String() + `
Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 78 schema drift (run: sitestat migrate).`,
		Writer:                 o.Stdout,
		ErrWriter:              o.Stderr,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Commands: []*cli.Command{
			checkCommand(),
			syncCommand(),
			migrateCommand(o.Schema),
			topicsCommand(),
			sitesCommand(),
			statusCommand(),
			incidentsCommand(),
			maintenanceCommand(),
			probesCommand(),
			dlqCommand(),
			alertsCommand(),
			pruneCommand(),
			rollupCommand(),
			serveCommand(),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("no command %q; see sitestat --help", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	usageErrors(app.Commands)
	return app
}

// interspersed lets flags follow positional arguments, as in
// `sitestat sites add URL --interval 30`: urfave/cli stops reading flags at
// the first argument, so the flags of the named (sub)command are moved
// before its arguments. "--" ends the flags.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds, rest := app.Commands, args[1:]
	var cmd *cli.Command
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(rest[0]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		out, rest = append(out, rest[0]), rest[1:]
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return append(out, rest...)
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
			flags = append(flags, rest[i+1])
			i++
		}
	}
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

// usageErrors makes every command report flag mistakes as usage errors.
func usageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
		usageErrors(c.Subcommands)
	}
}
