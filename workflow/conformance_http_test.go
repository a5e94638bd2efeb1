package workflow

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// HTTPURLPlaceholder in a conformance case's input stands for the URL of
// the test's HTTP server (NewConformanceServer).
const httpURLPlaceholder = "@HTTP_URL@"

// newConformanceServer serves what conformance/http_calls.yaml calls:
// GET /ok (JSON), POST /echo (returns the JSON body and query it got) and
// /fail (HTTP 500).
func newConformanceServer(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": ["0", "1"], "primary": "1"}`))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body any
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"body": body, "query": r.URL.RawQuery, "method": r.Method})
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"error": "nope"}`))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func substituteURL(in map[string]any, url string) {
	for k, v := range in {
		if v == httpURLPlaceholder {
			in[k] = url
		}
	}
}
