// Command sitestat monitors website availability: `sitestat check` probes the
// websites listed in PostgreSQL and produces one result per check to Kafka;
// `sitestat sync` consumes the results into PostgreSQL, effectively once.
// The role is chosen at launch; `sitestat --help` lists roles and settings.
//
// main only turns signals into a context and hands the schema and the
// version down to the CLI package (package cli), which reads the
// configuration and wires config, Kafka and PostgreSQL together.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sitestat/sitestat/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, cli.Options{Schema: schemaSQL, Version: version, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
