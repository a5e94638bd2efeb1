package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/cloud"
	"github.com/fernetflow/fernetflow/internal/mistralapi"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// apiMaxExecutions is how many executions serve's store keeps when it
// serves the Mistral API (store.Store.MaxExecutions): the oldest finished
// ones beyond it are deleted.
const apiMaxExecutions = 10000

// noAuthName is --auth's value that turns authentication off.
const noAuthName = "noauth"

// noAuthActions lets every caller run actions: --auth noauth.
type noAuthActions struct{}

func (noAuthActions) Authenticate(context.Context, *http.Request) (*actions.Caller, error) {
	return &actions.Caller{UserName: "noauth", ProjectID: mistralapi.NoAuthProject, ProjectName: mistralapi.NoAuthProject, Roles: []string{"admin"}}, nil
}

// loopback reports whether listen binds a loopback address only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// mistralAPI builds the Mistral v2 API that serve --listen offers beside
// the action server (/v1/actions), over the state directory's store and
// the served registry, and makes serve fire cron triggers through it.
// Until ctx ends, `fernetflow execution pause|resume|cancel` reach the
// executions it runs (store.ServeControl with the API's Controller).
func (a *app) mistralAPI(ctx context.Context, cmd *cobra.Command, f *actionServerFlags, reg workflow.Registry, log *slog.Logger) (*mistralapi.Server, error) {
	dir := ""
	if fl := cmd.Flags().Lookup("state-dir"); fl != nil {
		dir = fl.Value.String()
	}
	st, err := a.openStore(dir)
	if err != nil {
		return nil, err
	}
	if fl := cmd.Flag("keep-executions"); fl == nil || !fl.Changed {
		// An API client keeps the ids it was given: unless told, do not
		// prune at the CLI's default (1,000) but at apiMaxExecutions.
		st.MaxExecutions = apiMaxExecutions
	}
	var identify mistralapi.Identifier
	var authorize func(*actions.Caller) error // nil: every caller (noauth)
	var trusts mistralapi.Trusts              // none with noauth: triggers fire in their project, no delegation
	switch f.auth {
	case noAuthName:
		identify = mistralapi.NoAuth
	case "keystone":
		svc := serviceToken(cmd)
		ka := &actions.KeystoneAuth{URL: f.keystoneURL, CacheTTL: f.tokenCacheTTL, ServiceToken: svc}
		identify = ka.Identify
		// Any project's user may use the API for std.* workflows; only
		// the action server's callers run fernetflow's own actions.
		authorize = mistralapi.AuthorizeKeystone(f.projects, f.roles)
		// Cron triggers fire as their creator through a trust to the
		// service user (OS_* or --os-cloud); without one, POST
		// /v2/cron_triggers answers 503 naming the fix.
		trusts = &mistralapi.KeystoneTrusts{URL: f.keystoneURL, ServiceToken: svc}
	default:
		return nil, usagef("--auth %s: the Mistral API (/v2) needs --auth keystone or --auth %s", f.auth, noAuthName)
	}
	var system []string
	for _, name := range definitions.Names() {
		src, err := definitions.Source(name)
		if err != nil {
			return nil, err
		}
		system = append(system, string(src))
	}
	srv, err := mistralapi.New(mistralapi.Options{Store: st, Registry: reg, Identify: identify, AuthorizeActions: authorize, Trusts: trusts, Log: log, SystemDefinitions: system,
		// Runs of fernetflow's workflows (POST /v2/executions, the API's
		// cron triggers: Heat's) count in status and /metrics as
		// rotate's do; their deliveries counted as they happened.
		OnEnd: func(ex *workflow.Execution) { a.recordRun(st, ex, nil) }})
	if err != nil {
		return nil, err
	}
	a.fireTriggers = srv.FireTriggers
	go st.ServeControl(ctx, srv.Controller(), func(req store.ControlRequest, err error) {
		log.Warn("execution control", "execution", req.ExecutionID, "state", req.State, "err", err)
	})
	return srv, nil
}

// serviceToken is keystonemiddleware's service user: fernetflow's own token
// from --os-cloud or the OS_* variables, renewed every 30 minutes; nil when
// none are given (callers' tokens then validate themselves).
func serviceToken(cmd *cobra.Command) func(context.Context) (string, error) {
	name := os.Getenv("OS_CLOUD")
	if fl := cmd.Flags().Lookup("os-cloud"); fl != nil && fl.Value.String() != "" {
		name = fl.Value.String()
	}
	if name == "" && os.Getenv("OS_USERNAME") == "" && os.Getenv("OS_APPLICATION_CREDENTIAL_ID") == "" {
		return nil
	}
	var mu sync.Mutex
	var tok string
	var at time.Time
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if tok != "" && time.Since(at) < 30*time.Minute {
			return tok, nil
		}
		p, err := cloud.Authenticate(ctx, cloud.Options{Cloud: name})
		if err != nil {
			return "", fmt.Errorf("service user: %w", err)
		}
		tok, at = p.Token(), time.Now()
		return tok, nil
	}
}
