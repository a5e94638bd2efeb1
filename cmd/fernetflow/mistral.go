package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/executions"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/cloud"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/internal/mistral/register"
	"github.com/fernetflow/fernetflow/internal/mistral/tasks"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// mistralTag marks what fernetflow mistral register puts into Mistral.
const mistralTag = register.Tag

// mistralFlags reach Mistral: through clouds.yaml / OS_* (Keystone), or
// straight at --mistral-url for a Mistral without authentication.
type mistralFlags struct {
	cloud   string
	url     string
	timeout time.Duration
}

func (m *mistralFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.cloud, "os-cloud", "", "the clouds.yaml entry to use (default: OS_CLOUD, or the OS_* variables), as the openstack CLI")
	cmd.Flags().StringVar(&m.url, "mistral-url", "", "Mistral's v2 endpoint (such as http://127.0.0.1:8989/v2) instead of the service catalog's; without --os-cloud, no authentication (a Mistral with [pecan] auth_enable = False), as mistral --os-mistral-url")
	cmd.Flags().DurationVar(&m.timeout, "request-timeout", time.Minute, "time allowed for each request to Mistral or Keystone")
}

// client returns a workflow v2 ServiceClient: authenticated through
// clouds.yaml / OS_*, or unauthenticated at --mistral-url.
func (m *mistralFlags) client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	opts := cloud.Options{Cloud: m.cloud, Endpoint: m.url, RequestTimeout: m.timeout, Retries: 3}
	if m.url != "" {
		if _, err := url.Parse(m.url); err != nil {
			return nil, usagef("--mistral-url: %v", err)
		}
	}
	if m.url != "" && m.cloud == "" {
		return cloud.Unauthenticated("workflowv2", opts)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	return cloud.NewWorkflowClient(ctx, opts)
}

func (a *app) mistralCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mistral",
		Short: "Put fernetflow's actions, workflows and cron trigger into OpenStack Mistral",
		Long: `Run fernetflow's workflows on an existing OpenStack Mistral: register one
ad-hoc action per Go action (base: std.http, calling fernetflow serve
--listen), the embedded workflows and the rotation's cron trigger; list
Mistral's executions of them; remove them again.`,
	}
	cmd.AddCommand(a.mistralRegisterCmd(), a.mistralUnregisterCmd(), a.mistralExecutionsCmd())
	return cmd
}

// registerFlags choose how Mistral's ad-hoc actions call the action server.
type registerFlags struct {
	server           string
	auth             string
	sharedSecretFile string
	verify           string
	actionTimeout    time.Duration

	// actionsOnly registers the ad-hoc actions the workflows call and
	// nothing else: the Heat template owns the workflow and its trigger.
	actionsOnly bool

	cronName, schedule  string
	cronRemaining       int
	stack, role         string
	maxActive, conc     int
	exp, window, expire time.Duration
}

func (a *app) mistralRegisterCmd() *cobra.Command {
	var m mistralFlags
	r := registerFlags{auth: "keystone", cronName: mistralTag + "_rotate_fernet_keys", schedule: "0 3 * * 0",
		stack: "overcloud", role: "Controller", maxActive: keys.DefaultMaxActiveKeys, conc: 10,
		exp: keys.DefaultTokenExpiration, window: keys.DefaultAllowExpiredWindow, expire: 10 * time.Minute, actionTimeout: 15 * time.Minute}
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Create or update the ad-hoc actions, the workflows and the cron trigger in Mistral",
		Long: `Create or update, in Mistral, through its v2 API:

  - one ad-hoc action per fernetflow action (fleet.servers, fleet.check,
    keys.rotate, ...), named as the Go action, tagged "fernetflow":
    base: std.http, POST --action-server/v1/actions/NAME with the action's
    input as the JSON body, its output being the server's "result";
  - the embedded workflows (rotate_fernet_keys, distribute_fernet_keys,
    enroll_nodes), unchanged but for the tag "fernetflow";
  - the cron trigger --cron-name (its name starts with "fernetflow") running
    rotate_fernet_keys on --schedule; --schedule "" registers none.

With --auth keystone (the default) each call carries the token of the
execution's own Keystone context (<% $.openstack.auth_token %>), which
fernetflow serve --auth keystone validates. --auth shared-secret-for-tests
writes a fixed secret into the action definitions: FOR TESTS ONLY.

Running it again changes nothing that is already right (each item says
created, updated or unchanged). fernetflow mistral unregister removes what
it made.

With --actions-only it registers only the ad-hoc actions the embedded
workflows call, and no workflow and no cron trigger: use it with the Heat
template heat/templates/fernet-rotation.yaml, whose stack owns the
rotate_fernet_keys workflow and its cron trigger (a full register would
make the stack fail with "Duplicate entry" if run first, or take its
workflow over if run after). The cron trigger's flags (--schedule,
--max-active-keys, ...) are refused with it: set the template's
parameters instead.`,
		Example: `  fernetflow mistral register --os-cloud undercloud --action-server https://undercloud.example:8990
  fernetflow mistral register --os-cloud undercloud --action-server https://undercloud.example:8990 \
      --schedule "0 3 * * 0" --max-active-keys 5 --token-expiration 1h --allow-expired-window 48h
  # Beside the Heat template's stack (heat/templates/fernet-rotation.yaml): the actions only
  fernetflow mistral register --actions-only --os-cloud undercloud --action-server https://undercloud.example:8990
  # A Mistral without authentication (tests), and the action server's shared test secret
  fernetflow mistral register --mistral-url http://127.0.0.1:8989/v2 --action-server http://127.0.0.1:8990 \
      --auth shared-secret-for-tests --shared-secret-file secrets --schedule ""`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if r.actionsOnly {
				for _, f := range cronFlags {
					if cmd.Flags().Changed(f) {
						return usagef("--%s sets the cron trigger, which --actions-only does not register: with the Heat template, set its parameters (environments/fernet-rotation.yaml) instead", f)
					}
				}
			}
			return a.mistralRegister(cmd.Context(), &m, &r)
		},
	}
	m.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&r.actionsOnly, "actions-only", false, "register only the ad-hoc actions the workflows call: no workflow, no cron trigger (with the Heat template, whose stack owns those)")
	fl.StringVar(&r.server, "action-server", "", "the URL Mistral's executors reach fernetflow serve --listen by (such as https://undercloud.example:8990); required")
	fl.StringVar(&r.auth, "auth", r.auth, "how the actions authenticate to the action server: keystone (the execution's token), or "+sharedSecretAuthName+" (FOR TESTS ONLY)")
	fl.StringVar(&r.sharedSecretFile, "shared-secret-file", "", "--auth "+sharedSecretAuthName+": the action server's file of \"PROJECT SECRET\" lines; the first secret is used")
	fl.StringVar(&r.verify, "action-server-ca", "", "CA bundle, on Mistral's executor hosts, that verifies an https --action-server (default: the system's)")
	fl.DurationVar(&r.actionTimeout, "action-timeout", r.actionTimeout, "how long Mistral waits for one action's HTTP answer")
	fl.StringVar(&r.cronName, "cron-name", r.cronName, "the cron trigger's name (must start with \"fernetflow\")")
	fl.StringVar(&r.schedule, "schedule", r.schedule, "the rotation's cron pattern (UTC); empty: no cron trigger")
	fl.IntVar(&r.cronRemaining, "cron-remaining-executions", 0, "stop the cron trigger after this many runs (0: never)")
	fl.StringVar(&r.stack, "stack", r.stack, "cron trigger input: the overcloud stack")
	fl.StringVar(&r.role, "role", r.role, "cron trigger input: the role whose servers run Keystone")
	fl.IntVar(&r.maxActive, "max-active-keys", r.maxActive, "cron trigger input: [fernet_tokens] max_active_keys")
	fl.Var(duration{&r.exp}, "token-expiration", "cron trigger input: [token] expiration, seconds or a duration")
	fl.Var(duration{&r.window}, "allow-expired-window", "cron trigger input: [token] allow_expired_window, seconds or a duration")
	fl.IntVar(&r.conc, "concurrency", r.conc, "cron trigger input: deliveries at once")
	fl.Var(duration{&r.expire}, "timeout", "cron trigger input: time allowed for each delivery step")
	return cmd
}

// cronFlags are register's flags that only shape the cron trigger.
var cronFlags = []string{"schedule", "cron-name", "cron-remaining-executions", "stack", "role",
	"max-active-keys", "token-expiration", "allow-expired-window", "concurrency", "timeout"}

// registered is one line of register's and unregister's report.
type registered = register.Item

type registeredRows []registered

func (r registeredRows) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(r))
	for _, x := range r {
		rows = append(rows, []string{x.Kind, x.Name, x.Result})
	}
	return []string{"KIND", "NAME", "RESULT"}, rows
}

// mistralActions are the actions registered: the action server's.
func mistralActions() (workflow.Registry, error) {
	return actions.All().Mistral(), nil
}

// embeddedDefinitions are the workflows register puts into Mistral.
func embeddedDefinitions() ([]register.Definition, error) {
	var defs []register.Definition
	for _, f := range definitions.Names() {
		src, err := definitions.Source(f)
		if err != nil {
			return nil, err
		}
		defs = append(defs, register.Definition{Name: f, Source: src})
	}
	return defs, nil
}

func (a *app) mistralRegister(ctx context.Context, m *mistralFlags, r *registerFlags) error {
	if r.server == "" {
		return usagef("--action-server is required: the URL Mistral reaches fernetflow serve --listen by")
	}
	if u, err := url.Parse(r.server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--action-server %q: want http(s)://HOST:PORT", r.server)
	}
	if !r.actionsOnly && r.schedule != "" && !strings.HasPrefix(r.cronName, mistralTag) {
		return usagef("--cron-name %q must start with %q (unregister finds it by that)", r.cronName, mistralTag)
	}
	if err := keys.CheckTokenDurations(r.exp, r.window); err != nil {
		return usageError{err}
	}
	opts := register.Options{
		Action:      register.ActionOptions{Server: r.server, Verify: r.verify, Timeout: r.actionTimeout},
		ActionsOnly: r.actionsOnly,
		Timeout:     m.timeout,
	}
	switch r.auth {
	case "keystone":
		opts.Action.Token = register.KeystoneToken
	case sharedSecretAuthName:
		if r.sharedSecretFile == "" {
			return usagef("--auth %s needs --shared-secret-file", sharedSecretAuthName)
		}
		s, err := firstSharedSecret(r.sharedSecretFile)
		if err != nil {
			return err
		}
		opts.Action.Token = s
	default:
		return usagef("--auth %q: use keystone, or %s in tests", r.auth, sharedSecretAuthName)
	}
	if r.schedule != "" {
		opts.Cron = &register.Cron{Name: r.cronName, Pattern: r.schedule, Workflow: "rotate_fernet_keys",
			Input: r.cronInput(), RemainingExecutions: r.cronRemaining}
	}
	var err error
	if opts.Catalog, err = mistralActions(); err != nil {
		return err
	}
	if opts.Definitions, err = embeddedDefinitions(); err != nil {
		return err
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	report, err := register.Register(ctx, c, opts)
	if err != nil {
		return err
	}
	return a.print(registeredRows(report))
}

// firstSharedSecret reads the first secret of a "PROJECT SECRET" file.
func firstSharedSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("shared secrets: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("shared secrets: %s holds no \"PROJECT SECRET\" line", path)
}

// cronInput is the rotation's input the cron trigger passes.
func (r *registerFlags) cronInput() map[string]any {
	return map[string]any{
		"stack": r.stack, "role": r.role, "max_active_keys": r.maxActive,
		"token_expiration": int64(r.exp / time.Second), "allow_expired_window": int64(r.window / time.Second),
		"concurrency": r.conc, "timeout": int64(r.expire / time.Second), "dry_run": false,
	}
}

func (a *app) mistralUnregisterCmd() *cobra.Command {
	var m mistralFlags
	cmd := &cobra.Command{
		Use:   "unregister",
		Short: "Remove from Mistral what fernetflow mistral register made",
		Long: `Delete, in this order, the cron triggers whose names start with "fernetflow",
the workflows tagged "fernetflow" and the ad-hoc actions tagged "fernetflow".
Nothing else is touched. Executions stay in Mistral's history.`,
		Example: `  fernetflow mistral unregister --os-cloud undercloud
  fernetflow mistral unregister --mistral-url http://127.0.0.1:8989/v2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := m.client(ctx)
			if err != nil {
				return err
			}
			report, err := register.Unregister(ctx, c, m.timeout)
			if err != nil {
				return err
			}
			return a.print(registeredRows(report))
		},
	}
	m.register(cmd)
	return cmd
}

// mistralExec is an execution as Mistral shows it, its JSON-in-string
// fields decoded.
type mistralExec struct {
	ID           string         `json:"id"`
	WorkflowName string         `json:"workflow_name"`
	State        string         `json:"state"`
	StateInfo    string         `json:"state_info,omitempty"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
	Description  string         `json:"description,omitempty"`
	Input        map[string]any `json:"input,omitempty"`
	Output       map[string]any `json:"output,omitempty"`
	Tasks        []mistralTask  `json:"tasks,omitempty"`
}

type mistralTask struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	StateInfo string `json:"state_info,omitempty"`
}

type mistralExecs []mistralExec

func (e mistralExecs) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(e))
	for _, x := range e {
		rows = append(rows, []string{x.ID, x.WorkflowName, x.State, firstLineOf(x.StateInfo), x.CreatedAt, x.UpdatedAt})
	}
	return []string{"ID", "WORKFLOW NAME", "STATE", "STATE INFO", "CREATED AT", "UPDATED AT"}, rows
}

func (e *mistralExec) Table() ([]string, [][]string) {
	rows := [][]string{{"id", e.ID}, {"workflow_name", e.WorkflowName}, {"state", e.State}, {"state_info", e.StateInfo},
		{"created_at", e.CreatedAt}, {"updated_at", e.UpdatedAt}}
	if e.Description != "" {
		rows = append(rows, []string{"description", e.Description})
	}
	for _, t := range e.Tasks {
		v := t.State
		if t.StateInfo != "" {
			v += "  " + firstLineOf(t.StateInfo)
		}
		rows = append(rows, []string{"task " + t.Name, v})
	}
	return []string{"FIELD", "VALUE"}, rows
}

func mistralTimeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func (a *app) mistralExecutionsCmd() *cobra.Command {
	var m mistralFlags
	var wfs []string
	limit := 50
	cmd := &cobra.Command{
		Use:   "executions [ID]",
		Short: "List Mistral's executions of fernetflow's workflows, or show one with its tasks",
		Long: `Without an argument, list Mistral's latest executions of fernetflow's
workflows (rotate_fernet_keys, distribute_fernet_keys, enroll_nodes, or
--workflow), newest first; with an execution id, show it: input, output,
and each task's state.`,
		Example: `  fernetflow mistral executions --os-cloud undercloud
  fernetflow mistral executions --os-cloud undercloud 2f6c5a7e-0b1d-4c57-9a3b-5d3e0f1c2a4b -f json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := m.client(ctx)
			if err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, m.timeout)
			defer cancel()
			if len(args) == 1 {
				ex, err := executions.Get(cctx, c, args[0]).Extract()
				if err != nil {
					return fmt.Errorf("mistral: execution %s: %w", args[0], err)
				}
				v := viewExecution(*ex)
				v.Input, v.Output = ex.Input, ex.Output
				tctx, tcancel := context.WithTimeout(ctx, m.timeout)
				defer tcancel()
				pages, err := tasks.List(c, ex.ID).AllPages(tctx)
				if err != nil {
					return fmt.Errorf("mistral: execution %s: tasks: %w", ex.ID, err)
				}
				ts, err := tasks.ExtractTasks(pages)
				if err != nil {
					return fmt.Errorf("mistral: execution %s: tasks: %w", ex.ID, err)
				}
				for _, t := range ts {
					mt := mistralTask{Name: t.Name, State: t.State}
					if t.StateInfo != nil {
						mt.StateInfo = *t.StateInfo
					}
					v.Tasks = append(v.Tasks, mt)
				}
				return a.print(&v)
			}
			if len(wfs) == 0 {
				defs, err := embeddedDefinitions()
				if err != nil {
					return err
				}
				if wfs, err = register.WorkflowNames(defs); err != nil {
					return err
				}
			}
			out := mistralExecs{}
			err = executions.List(c, executions.ListOpts{
				WorkflowName: &executions.ListFilter{Filter: executions.FilterIN, Value: strings.Join(wfs, ",")},
				SortKeys:     "created_at", SortDirs: "desc", Limit: limit,
			}).EachPage(cctx, func(_ context.Context, p pagination.Page) (bool, error) {
				page, err := executions.ExtractExecutions(p)
				if err != nil {
					return false, err
				}
				for _, ex := range page {
					if len(out) == limit {
						return false, nil
					}
					out = append(out, viewExecution(ex))
				}
				return len(out) < limit, nil
			})
			if err != nil {
				return fmt.Errorf("mistral: list executions: %w", err)
			}
			return a.print(out)
		},
	}
	m.register(cmd)
	cmd.Flags().StringSliceVar(&wfs, "workflow", nil, "only the executions of these workflows")
	cmd.Flags().IntVar(&limit, "limit", limit, "at most this many executions")
	return cmd
}

func viewExecution(ex executions.Execution) mistralExec {
	v := mistralExec{ID: ex.ID, WorkflowName: ex.WorkflowName, State: ex.State, Description: ex.Description,
		CreatedAt: mistralTimeString(ex.CreatedAt), UpdatedAt: mistralTimeString(ex.UpdatedAt)}
	if ex.StateInfo != nil {
		v.StateInfo = *ex.StateInfo
	}
	return v
}
