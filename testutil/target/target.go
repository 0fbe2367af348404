// Package target is a local website with many behaviours, for the demo, the
// end-to-end tests and the benchmarks: every site sitestat checks there is on
// the loopback, never on the internet.
//
// Routes:
//
//	/ok              200 "sitestat target: all good"
//	/status/{code}   that status, with body "status {code}"
//	/slow?d=2s       waits d, then 200 (gives up early when the client leaves)
//	/redirect/{n}    n redirects, then /ok
//	/loop            redirects to itself forever
//	/big?bytes=N     200 with an N-byte body, streamed
//	/drip?d=5s       200, then one byte every 100ms for d
package target

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// OKBody is the body of /ok; a regex like "all good" matches it.
const OKBody = "sitestat target: all good\n"

// Handler returns the target's routes.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, OKBody)
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 100 || code > 999 {
			http.Error(w, "bad status code", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(duration(r, "d", 2*time.Second)):
			io.WriteString(w, "slow but fine\n")
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n <= 1 { // the last of n redirects goes to /ok
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/redirect/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("GET /loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if n <= 0 {
			n = 50 << 20
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		chunk := make([]byte, 32<<10)
		for i := range chunk {
			chunk[i] = 'x'
		}
		for n > 0 {
			k := min(n, int64(len(chunk)))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("GET /drip", func(w http.ResponseWriter, r *http.Request) {
		end := time.Now().Add(duration(r, "d", 5*time.Second))
		w.WriteHeader(http.StatusOK)
		for time.Now().Before(end) {
			if _, err := w.Write([]byte{'.'}); err != nil {
				return
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	return mux
}

func duration(r *http.Request, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(r.URL.Query().Get(name)); err == nil && d >= 0 {
		return d
	}
	return def
}
