// The benchmark's peer: the seed document's Go gateway done fairly — net/http, the
// standard library only, keep-alive connection reuse to the upstream — forwarding
// POST /v2/models/{m}/infer to UPSTREAM and passing the answer back.
//
// Build: CGO_ENABLED=0 go build -ldflags '-s -w' -o go-gateway main.go
// Run:   UPSTREAM=http://127.0.0.1:8000 LISTEN=127.0.0.1:8080 ./go-gateway
package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	upstream := strings.TrimRight(os.Getenv("UPSTREAM"), "/")
	listen := os.Getenv("LISTEN")
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	http.HandleFunc("/v2/models/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/infer") {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
			upstream+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		for _, h := range []string{"Content-Type", "Inference-Header-Content-Length"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, `{"error":"upstream failed"}`, http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Inference-Header-Content-Length"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	log.Fatal(http.ListenAndServe(listen, nil))
}
