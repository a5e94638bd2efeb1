package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Hook is heat-config's hook contract for group "fernetflow": the
// deployment (a derived config, as JSON) comes on r; the returned map is
// what the hook prints on stdout: deploy_stdout, deploy_stderr,
// deploy_status_code and the outputs. The hook does not signal:
// heat-config-notify does, with this output. An error means the input was
// not a deployment at all; a deployment that fails is reported in the
// outputs (deploy_status_code 1), not as an error.
//
// Installed as /var/lib/heat-config/hooks/fernetflow (a script that execs
// `fernetflow node hook` with the node's flags), it makes a TripleO node
// with heat-agents apply fernetflow deployments as `node collect` would.
func Hook(ctx context.Context, r io.Reader, o TransportOptions) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("node: hook: read the deployment on stdin: %w", err)
	}
	var c HeatConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("node: hook: stdin is not a heat-config deployment (JSON object): %w", err)
	}
	return ApplyHeatConfig(ctx, c, o), nil
}
