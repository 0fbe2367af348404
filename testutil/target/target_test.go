package target

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	tests := []struct {
		path     string
		wantCode int
		wantLen  int // -1: any
	}{
		{"/ok", 200, len(OKBody)},
		{"/status/404", 404, -1},
		{"/status/503", 503, -1},
		{"/slow?d=10ms", 200, -1},
		{"/redirect/3", 200, len(OKBody)},
		{"/big?bytes=100000", 200, 100000},
		{"/drip?d=250ms", 200, -1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantLen >= 0 && len(body) != tt.wantLen {
				t.Errorf("body = %d bytes, want %d", len(body), tt.wantLen)
			}
		})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/loop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); got != "/loop" {
		t.Errorf("/loop redirects to %q, want /loop", got)
	}
}
