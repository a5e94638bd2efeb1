package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/utils/v2/openstack/clientconfig"
)

// CloudOptions says which cloud to talk to. Empty fields fall back to
// clouds.yaml and the OS_* variables exactly as the openstack CLI reads
// them: --os-cloud (Cloud) wins over OS_CLOUD, and a clouds.yaml entry's
// region wins over OS_REGION_NAME.
type CloudOptions struct {
	// Cloud is the clouds.yaml entry (--os-cloud); empty means OS_CLOUD,
	// or the only entry, or the OS_* variables.
	Cloud string
	// RegionName overrides the region.
	RegionName string
	// Interface is public, internal or admin (default public).
	Interface string
	// RequestTimeout bounds each HTTP request (default 60s).
	RequestTimeout time.Duration
	// Retries is how many times a request that failed with a transient
	// error (5xx, connection refused or reset) is retried (default 4).
	Retries int
}

// NewOrchestrationClient authenticates and returns a client for Heat's
// orchestration API. Tokens are renewed on a 401 (re-auth once per request),
// and transient failures are retried with exponential backoff.
func NewOrchestrationClient(ctx context.Context, opts CloudOptions) (*gophercloud.ServiceClient, error) {
	co := &clientconfig.ClientOpts{Cloud: opts.Cloud}
	ao, err := clientconfig.AuthOptions(co)
	if err != nil {
		if name := cloudName(opts.Cloud); name != "" {
			return nil, fmt.Errorf("deploy: cloud %q: read its credentials from clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/): %w", name, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	ao.AllowReauth = true
	var cloud clientconfig.Cloud
	if name := cloudName(opts.Cloud); name != "" {
		c, err := clientconfig.GetCloudFromYAML(&clientconfig.ClientOpts{Cloud: opts.Cloud})
		if err != nil {
			return nil, fmt.Errorf("deploy: cloud %q: %w", name, err)
		}
		cloud = *c
	}
	tlsConfig, err := clientconfig.PrepareTLSConfig("OS_", &cloud)
	if err != nil {
		return nil, fmt.Errorf("deploy: TLS settings: %w", err)
	}
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("deploy: auth URL %q: %w", ao.IdentityEndpoint, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	timeout := opts.RequestTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	pc.HTTPClient = http.Client{Transport: limitedTransport{transport, MaxResponse}, Timeout: timeout}
	retries := opts.Retries
	if retries == 0 {
		retries = 4
	}
	pc.RetryFunc = RetryFunc(uint(max(retries, 0)), 250*time.Millisecond)
	if err := openstack.Authenticate(ctx, pc, *ao); err != nil {
		return nil, fmt.Errorf("deploy: authenticate to %s as %q: %w", ao.IdentityEndpoint, firstNonEmpty(ao.Username, ao.UserID, "(token)"), err)
	}
	region := firstNonEmpty(opts.RegionName, cloud.RegionName, os.Getenv("OS_REGION_NAME"))
	iface := firstNonEmpty(opts.Interface, cloud.EndpointType, os.Getenv("OS_INTERFACE"))
	sc, err := openstack.NewOrchestrationV1(pc, gophercloud.EndpointOpts{
		Region:       region,
		Availability: clientconfig.GetEndpointType(iface),
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: find Heat (orchestration) in the service catalog, region %q: %w", region, err)
	}
	return sc, nil
}

// MaxResponse bounds each answer of Keystone and Heat (a token with its
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
			return 0, fmt.Errorf("deploy: the answer of %s is over %d bytes: refusing it", b.url, b.max)
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

func cloudName(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("OS_CLOUD")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
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

// ErrNoCredentials means no cloud credentials were found: no cloud named
// (CloudOptions.Cloud, OS_CLOUD) and no usable OS_* variables.
var ErrNoCredentials = errors.New("deploy: no cloud credentials (a clouds.yaml cloud, OS_CLOUD, or the OS_* variables)")
