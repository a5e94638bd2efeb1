package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/utils/v2/openstack/clientconfig"
)

// ErrNoCredentials is wrapped by the error of Authenticate (and of the
// New*Client functions) when no cloud is named (Options.Cloud, OS_CLOUD)
// and the OS_* variables describe no usable one.
var ErrNoCredentials = errors.New("cloud: no cloud credentials (a clouds.yaml cloud, OS_CLOUD, or the OS_* variables)")

// Options says which cloud to talk to. Empty fields fall back to
// clouds.yaml and the OS_* variables exactly as the openstack CLI reads
// them: Cloud wins over OS_CLOUD, and a clouds.yaml entry's region wins
// over OS_REGION_NAME.
type Options struct {
	// Cloud is the clouds.yaml entry (the openstack CLI's --os-cloud);
	// empty means OS_CLOUD, or the only entry, or the OS_* variables.
	Cloud string
	// RegionName overrides the region.
	RegionName string
	// Interface is public, internal or admin (default public).
	Interface string
	// Endpoint, when set, is the service's endpoint instead of the service
	// catalog's (such as http://127.0.0.1:8989/v2 for Mistral).
	Endpoint string
	// RequestTimeout bounds each HTTP request (default 60s).
	RequestTimeout time.Duration
	// Retries is how many times a request that failed with a transient
	// error (5xx, connection refused or reset) is retried (default 4;
	// negative: never).
	Retries int
}

// Provider is an authenticated ProviderClient with the region and
// interface its service clients are looked up in.
type Provider struct {
	*gophercloud.ProviderClient
	opts  Options
	cloud clientconfig.Cloud
}

// Authenticate reads the credentials opts and the environment describe
// and gets a token from Keystone.
func Authenticate(ctx context.Context, opts Options) (*Provider, error) {
	ao, err := clientconfig.AuthOptions(&clientconfig.ClientOpts{Cloud: opts.Cloud})
	if err != nil {
		if name := cloudName(opts.Cloud); name != "" {
			return nil, fmt.Errorf("cloud: cloud %q: read its credentials from clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/): %w", name, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	ao.AllowReauth = true
	p := &Provider{opts: opts}
	if name := cloudName(opts.Cloud); name != "" {
		c, err := clientconfig.GetCloudFromYAML(&clientconfig.ClientOpts{Cloud: opts.Cloud})
		if err != nil {
			return nil, fmt.Errorf("cloud: cloud %q: %w", name, err)
		}
		p.cloud = *c
	}
	tlsConfig, err := clientconfig.PrepareTLSConfig("OS_", &p.cloud)
	if err != nil {
		return nil, fmt.Errorf("cloud: TLS settings: %w", err)
	}
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("cloud: auth URL %q: %w", ao.IdentityEndpoint, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	configure(pc, transport, opts)
	if err := openstack.Authenticate(ctx, pc, *ao); err != nil {
		return nil, fmt.Errorf("cloud: authenticate to %s as %q: %w", ao.IdentityEndpoint, firstNonEmpty(ao.Username, ao.UserID, "(token)"), err)
	}
	p.ProviderClient = pc
	return p, nil
}

// configure sets pc's HTTP client (bounded answers, opts' timeout) and
// retries.
func configure(pc *gophercloud.ProviderClient, transport http.RoundTripper, opts Options) {
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
}

// endpointOpts are where the catalog is searched: opts, then the
// clouds.yaml entry, then OS_REGION_NAME and OS_INTERFACE.
func (p *Provider) endpointOpts() gophercloud.EndpointOpts {
	return gophercloud.EndpointOpts{
		Region:       firstNonEmpty(p.opts.RegionName, p.cloud.RegionName, os.Getenv("OS_REGION_NAME")),
		Availability: clientconfig.GetEndpointType(firstNonEmpty(p.opts.Interface, p.cloud.EndpointType, os.Getenv("OS_INTERFACE"))),
	}
}

// service returns Options.Endpoint's client when set, else the catalog's
// through find.
func (p *Provider) service(serviceType, what string, find func(*gophercloud.ProviderClient, gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error)) (*gophercloud.ServiceClient, error) {
	if p.opts.Endpoint != "" {
		return &gophercloud.ServiceClient{ProviderClient: p.ProviderClient, Endpoint: endpoint(p.opts.Endpoint), Type: serviceType}, nil
	}
	eo := p.endpointOpts()
	sc, err := find(p.ProviderClient, eo)
	if err != nil {
		return nil, fmt.Errorf("cloud: find %s (%s) in the service catalog, region %q: %w", what, serviceType, eo.Region, err)
	}
	return sc, nil
}

// Orchestration returns a client for Heat's orchestration API.
func (p *Provider) Orchestration() (*gophercloud.ServiceClient, error) {
	return p.service("orchestration", "Heat", openstack.NewOrchestrationV1)
}

// Workflow returns a client for Mistral's workflow v2 API.
func (p *Provider) Workflow() (*gophercloud.ServiceClient, error) {
	return p.service("workflowv2", "Mistral", openstack.NewWorkflowV2)
}

// NewOrchestrationClient authenticates and returns a client for Heat's
// orchestration API.
func NewOrchestrationClient(ctx context.Context, opts Options) (*gophercloud.ServiceClient, error) {
	p, err := Authenticate(ctx, opts)
	if err != nil {
		return nil, err
	}
	return p.Orchestration()
}

// NewWorkflowClient authenticates and returns a client for Mistral's
// workflow v2 API.
func NewWorkflowClient(ctx context.Context, opts Options) (*gophercloud.ServiceClient, error) {
	p, err := Authenticate(ctx, opts)
	if err != nil {
		return nil, err
	}
	return p.Workflow()
}

// Unauthenticated returns a client of serviceType at opts.Endpoint that
// sends no token: for a service run without Keystone (Mistral with
// [pecan] auth_enable = False), in tests. Timeouts, retries and bounds
// are as for the authenticated clients.
func Unauthenticated(serviceType string, opts Options) (*gophercloud.ServiceClient, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("cloud: an unauthenticated client needs an endpoint")
	}
	pc := &gophercloud.ProviderClient{}
	configure(pc, http.DefaultTransport, opts)
	return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: endpoint(opts.Endpoint), Type: serviceType}, nil
}

func endpoint(u string) string { return strings.TrimSuffix(u, "/") + "/" }

func cloudName(name string) string {
	if name != "" {
		return name
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
