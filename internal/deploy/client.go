package deploy

import (
	"context"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/fernetflow/fernetflow/internal/cloud"
)

// CloudOptions says which cloud to talk to: see cloud.Options.
type CloudOptions = cloud.Options

// NewOrchestrationClient authenticates and returns a client for Heat's
// orchestration API (cloud.NewOrchestrationClient). Tokens are renewed on
// a 401 (re-auth once per request), and transient failures are retried
// with exponential backoff.
func NewOrchestrationClient(ctx context.Context, opts CloudOptions) (*gophercloud.ServiceClient, error) {
	return cloud.NewOrchestrationClient(ctx, opts)
}

// MaxResponse bounds each answer of Keystone and Heat (cloud.MaxResponse).
const MaxResponse = cloud.MaxResponse

// RetryFunc retries transient failures: see cloud.RetryFunc.
func RetryFunc(maxRetries uint, base time.Duration) gophercloud.RetryFunc {
	return cloud.RetryFunc(maxRetries, base)
}

// ErrNoCredentials means no cloud credentials were found: no cloud named
// (CloudOptions.Cloud, OS_CLOUD) and no usable OS_* variables. It is
// cloud.ErrNoCredentials.
var ErrNoCredentials = cloud.ErrNoCredentials
