package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/urfave/cli/v2"

	"github.com/sitestat/sitestat/schema"
	"github.com/sitestat/sitestat/store"
	"github.com/sitestat/sitestat/web"
)

// The serve role reads the database through web.Store.
var _ web.Store = (*store.DB)(nil)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the status page, a JSON API and badges over HTTP (read-only)",
		Description: `Listens on SITESTAT_HTTP_ADDR (127.0.0.1:8080) and serves, from the database only
(SITESTAT_DATABASE_URL; Kafka is not used):
   /                          overview: every website, down first, 100 a page, ?q= search
   /sites/ID                  one website: state per probe, response-time charts, uptime, incidents
   /incidents                 incidents, open first
   /api/v1/sites[/ID[/uptime?window=30d|/checks?since=T&limit=N]], /api/v1/incidents?open=true
   /badge/ID/status.svg, /badge/ID/uptime/{24h,7d,30d,90d}.{svg,json}
   /healthz, /readyz, /metrics
SITESTAT_HTTP_BASIC_AUTH=user:password protects everything but /healthz, /readyz
and the badges; SITESTAT_HTTP_PUBLIC_URLS=false shows websites by name or id only
and failures by reason only. URLs never show user info; query values show as …
unless SITESTAT_HTTP_PUBLIC_QUERY=true.
SIGINT/SIGTERM: finish the requests in flight (up to SITESTAT_SHUTDOWN_TIMEOUT), exit 0.`,
		Action: func(c *cli.Context) error {
			e, err := setup(c)
			if err != nil {
				return err
			}
			return runServe(c.Context, e)
		},
	}
}

func runServe(ctx context.Context, e *env) error {
	log := e.log.With("component", "serve")
	db, err := openDBWait(ctx, e, log, false, store.Options{Alerts: alertOptions(e.cfg)})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := schema.CheckServe(ctx, db.SQL()); err != nil {
		return err
	}
	srv := web.New(db, web.Options{BasicAuth: e.cfg.HTTPBasicAuth, PublicURLs: e.cfg.HTTPPublicURLs,
		PublicQuery: e.cfg.HTTPPublicQuery, Logger: log})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", e.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	hs := web.NewHTTPServer(srv)
	log.Info("serving", "addr", ln.Addr().String(), "auth", e.cfg.HTTPBasicAuth != "", "public_urls", e.cfg.HTTPPublicURLs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(stopCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
