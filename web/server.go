// Package web is `sitestat serve`: a read-only status page (server-rendered
// HTML with inline SVG, no JavaScript), a JSON API and badges, over the
// rollups, state and incidents that package store reads. It knows nothing of
// the configuration: main passes Options.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitestat/sitestat/store"
)

// Store is what the server reads; *store.DB is one.
type Store interface {
	Ping(ctx context.Context) error
	StatusNoP95(ctx context.Context, window time.Duration, now time.Time) ([]store.SiteStatus, error)
	SiteStates(ctx context.Context, now time.Time) ([]store.SiteStatus, error)
	SiteState(ctx context.Context, id int64, now time.Time) (store.SiteStatus, error)
	SiteSummaries(ctx context.Context, ids []int64, window time.Duration, days int, now time.Time) (map[int64]store.SiteSummary, error)
	SiteDetailWith(ctx context.Context, id int64, now time.Time, opts store.DetailOptions) (store.SiteDetail, error)
	SiteHours(ctx context.Context, id int64, from, now time.Time) ([]store.HourStatus, error)
	SiteTLS(ctx context.Context, id int64) (*store.TLSInfo, error)
	Checks(ctx context.Context, id int64, since time.Time, limit int) ([]store.Check, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]store.Incident, error)
}

// Options configures a Server.
type Options struct {
	// BasicAuth is "user:password"; when set, every route but /healthz,
	// /readyz and the badges asks for it. Requests that carry it are
	// authenticated and see private websites; without it no request is,
	// and private websites never appear.
	BasicAuth string
	// PublicURLs shows the websites' URLs (through redact.URL: no
	// user info) and the error texts of checks and incidents; when false a
	// website shows as its name, or "website ID", and a failure as its
	// reason only (an error may name a host, an IP address, the up_regex or
	// a checker's host).
	PublicURLs bool
	// PublicQuery shows the query values of the URLs shown; when false they
	// are masked ("?key=…").
	PublicQuery bool
	// PageSize is the number of websites per overview page; 0 means 100.
	PageSize int
	// RequestTimeout bounds every request: its handler's context ends then,
	// so queries are cancelled and loops stop, and it answers 503.
	// 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server serves the status page, the API and the badges.
type Server struct {
	st       Store
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
	authHash [sha256.Size]byte // of Options.BasicAuth, when set
}

// New returns a Server reading st.
func New(st Store, opts Options) *Server {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{st: st, opts: opts, log: log, reg: prometheus.NewRegistry(), authHash: sha256.Sum256([]byte(opts.BasicAuth))}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sitestat_http_requests_total", Help: "HTTP requests served, by route and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sitestat_http_request_duration_seconds", Help: "Time to serve an HTTP request, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	s.reg.MustRegister(s.requests, s.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	open := http.NewServeMux()
	open.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	open.HandleFunc("GET /readyz", s.readyz)
	open.HandleFunc("GET /badge/{id}/status.svg", s.badgeStatus)
	open.HandleFunc("GET /badge/{id}/uptime/{file}", s.badgeUptime)

	private := http.NewServeMux()
	private.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	private.HandleFunc("GET /{$}", s.overview)
	private.HandleFunc("GET /sites/{id}", s.sitePage)
	private.HandleFunc("GET /incidents", s.incidentsPage)
	private.HandleFunc("GET /api/v1/sites", s.apiSites)
	private.HandleFunc("GET /api/v1/sites/{id}", s.apiSite)
	private.HandleFunc("GET /api/v1/sites/{id}/uptime", s.apiUptime)
	private.HandleFunc("GET /api/v1/sites/{id}/checks", s.apiChecks)
	private.HandleFunc("GET /api/v1/incidents", s.apiIncidents)
	private.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such API route")
	})
	private.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.htmlError(w, r, http.StatusNotFound, "no such page")
	})
	open.Handle("/", s.auth(private))
	s.handler = WithTimeout(s.instrument(open), opts.RequestTimeout)
	return s
}

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// readyz answers 200 when the database answers within 2 s.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.st.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// auth asks for the basic-auth credentials when they are configured.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.BasicAuth == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authenticated(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="sitestat", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated reports whether r carries the configured basic-auth
// credentials; without BasicAuth no request is authenticated. The
// comparison takes the same time whatever the input. (API tokens, when
// they come, are one more way to answer true here.)
func (s *Server) authenticated(r *http.Request) bool {
	if s.opts.BasicAuth == "" {
		return false
	}
	user, pass, ok := r.BasicAuth()
	got := sha256.Sum256([]byte(user + ":" + pass))
	return ok && subtle.ConstantTimeCompare(got[:], s.authHash[:]) == 1
}

// DefaultRequestTimeout is how long a request of `serve` (and of the metrics
// server of `check` and `sync`) may take: its context ends then.
const DefaultRequestTimeout = 30 * time.Second

// WithTimeout gives every request of next a context that ends after d, so a
// handler that follows its context stops then. net/http's WriteTimeout alone
// does not stop a handler: it only makes its writes fail.
func WithTimeout(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// NewHTTPServer returns the http.Server of h with sitestat's timeouts, the
// same for `serve` and the metrics server: headers within 5 s, the request
// within 30 s, the answer within the request timeout plus 5 s, idle
// connections closed after 2 minutes. Wrap h in WithTimeout (web.New does)
// so handlers stop before the write timeout.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: DefaultRequestTimeout + 5*time.Second, IdleTimeout: 2 * time.Minute}
}

// statusRecorder keeps the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts requests and times them by route (the pattern that
// matched, so /sites/{id} is one route), and sets the security headers.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := routeOf(r.Pattern)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// routeOf turns a mux pattern ("GET /sites/{id}") into a route label
// ("/sites/{id}"); the catch-all patterns are "other".
func routeOf(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	if path == "" {
		path = pattern
	}
	if path == "" || path == "/" || path == "/api/" {
		return "other"
	}
	return path
}
