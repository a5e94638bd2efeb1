package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// MaxResponse bounds each answer of Keystone, Heat and Mistral (a token with its
// catalog, a server's metadata, a list of deployments): a larger body is an
// error, not something to hold in memory.
const MaxResponse = 64 << 20

// limitedTransport cuts every response body at max bytes: reading past
// them fails.
type limitedTransport struct {
	http.RoundTripper
	max int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max, max: t.max, url: req.URL.Redacted()}
	}
	return resp, err
}

type limitedBody struct {
	io.ReadCloser
	left, max int64
	url       string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("cloud: the answer of %s is over %d bytes: refusing it", b.url, b.max)
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// RetryFunc returns a gophercloud.RetryFunc that retries transient failures
// up to maxRetries times, waiting base, 2·base, 4·base... (at most 5s)
// between tries and honouring ctx. Transient means: 502, 503 and 504 for
// every method; 500 and connection errors only for idempotent methods
// (GET, HEAD, PUT, DELETE), so that a POST is never applied twice. 4xx
// answers and malformed bodies are not retried.
func RetryFunc(maxRetries uint, base time.Duration) gophercloud.RetryFunc {
	return func(ctx context.Context, method, url string, _ *gophercloud.RequestOpts, err error, failCount uint) error {
		if failCount > maxRetries || !transient(method, err) || ctx.Err() != nil {
			return err
		}
		d := base << (failCount - 1)
		if d > 5*time.Second || d <= 0 {
			d = 5 * time.Second
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
			return nil
		}
	}
}

func transient(method string, err error) bool {
	idempotent := method != http.MethodPost && method != http.MethodPatch
	var code gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &code) {
		switch code.Actual {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case http.StatusInternalServerError:
			return idempotent
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) && !netErr.Timeout() {
		return idempotent
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && idempotent
}
