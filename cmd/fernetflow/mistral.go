package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/crontriggers"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/executions"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/spf13/cobra"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/keys"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/definitions"
)

// mistralTag marks what fernetflow mistral register puts into Mistral
// (actions and workflows carry it as a tag; cron triggers' names start
// with it), so that unregister removes that and nothing else.
const mistralTag = "fernetflow"

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
type registered struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Result string `json:"result"`
}

type registeredRows []registered

func (r registeredRows) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(r))
	for _, x := range r {
		rows = append(rows, []string{x.Kind, x.Name, x.Result})
	}
	return []string{"KIND", "NAME", "RESULT"}, rows
}

// adhocOptions shape the ad-hoc actions.
type adhocOptions struct {
	Server  string // the action server's base URL
	Token   string // the X-Auth-Token header's value (an expression or a literal)
	Verify  string // std.http's verify: a CA bundle path, or "" for the default
	Timeout time.Duration
}

// mistralActions are the actions registered: the action server's.
func mistralActions() (workflow.Registry, error) {
	return actions.All().Mistral(), nil
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
	o := adhocOptions{Server: strings.TrimSuffix(r.server, "/"), Verify: r.verify, Timeout: r.actionTimeout}
	switch r.auth {
	case "keystone":
		o.Token = "<% $.openstack.auth_token %>"
	case sharedSecretAuthName:
		if r.sharedSecretFile == "" {
			return usagef("--auth %s needs --shared-secret-file", sharedSecretAuthName)
		}
		s, err := firstSharedSecret(r.sharedSecretFile)
		if err != nil {
			return err
		}
		o.Token = s
	default:
		return usagef("--auth %q: use keystone, or %s in tests", r.auth, sharedSecretAuthName)
	}
	reg, err := mistralActions()
	if err != nil {
		return err
	}
	names := reg.Names()
	if r.actionsOnly {
		if names, err = workflowActions(reg); err != nil {
			return err
		}
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	api := &mistralAPI{c: c, timeout: m.timeout}
	var report registeredRows
	for _, n := range names {
		act, _ := reg.Lookup(n)
		def, err := adhocActionYAML(act, o)
		if err != nil {
			return err
		}
		res, err := api.put(ctx, "actions", n, def)
		if err != nil {
			return err
		}
		report = append(report, registered{"action", n, res})
	}
	if r.actionsOnly {
		return a.print(report)
	}
	for _, file := range definitions.Names() {
		src, err := definitions.Source(file)
		if err != nil {
			return err
		}
		def, names := taggedWorkflows(src)
		res := ""
		for _, n := range names {
			if res, err = api.put(ctx, "workflows", n, def); err != nil {
				return err
			}
			break // one document: put creates or updates all its workflows
		}
		for _, n := range names {
			report = append(report, registered{"workflow", n, res})
		}
	}
	if r.schedule != "" {
		res, err := a.putCronTrigger(ctx, api, r)
		if err != nil {
			return err
		}
		report = append(report, registered{"cron trigger", r.cronName, res})
	}
	return a.print(report)
}

// workflowActions lists, sorted, the actions the embedded workflows call
// that Mistral does not have itself (std.* are Mistral's own). Each must
// be one the action server serves (reg).
func workflowActions(reg workflow.Registry) ([]string, error) {
	seen := map[string]bool{}
	for _, file := range definitions.Names() {
		src, err := definitions.Source(file)
		if err != nil {
			return nil, err
		}
		f, err := workflow.Parse(file, src)
		if err != nil {
			return nil, fmt.Errorf("mistral: %w", err)
		}
		for _, w := range f.Workflows {
			for _, t := range w.Tasks {
				if t.Action == "" || strings.HasPrefix(t.Action, "std.") || seen[t.Action] {
					continue
				}
				if _, ok := reg.Lookup(t.Action); !ok {
					return nil, fmt.Errorf("mistral: workflow %s, task %s calls %s, which the action server does not serve", w.Name, t.Name, t.Action)
				}
				seen[t.Action] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
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

// yamlString quotes s for YAML (a JSON string is a YAML double-quoted one).
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

// adhocActionYAML is the ad-hoc action of a: base std.http, POST to the
// action server with the action's input as the body. Every input property
// becomes an input parameter: required ones bare, optional ones with their
// schema default, or null when they have none; null parameters are left
// out of the body, so that the Go action sees them absent, as on the
// embedded engine.
func adhocActionYAML(a workflow.Action, o adhocOptions) ([]byte, error) {
	var sch struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if raw := a.InputSchema(); len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &sch); err != nil {
			return nil, fmt.Errorf("mistral: the input schema of %s: %w", a.Name(), err)
		}
	}
	var names []string
	for n := range sch.Properties {
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(n) {
			return nil, fmt.Errorf("mistral: action %s: input %q cannot be a Mistral parameter", a.Name(), n)
		}
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := slices.Contains(sch.Required, names[i]), slices.Contains(sch.Required, names[j])
		if ri != rj {
			return ri
		}
		return names[i] < names[j]
	})
	var body []string
	for _, n := range names {
		body = append(body, n+" => $."+n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "---\nversion: '2.0'\n\n# Generated by fernetflow mistral register: the Go action %s, run by\n# fernetflow serve --listen. Do not edit; register again.\n", a.Name())
	fmt.Fprintf(&b, "%s:\n", a.Name())
	fmt.Fprintf(&b, "  description: %s\n", yamlString(a.Description()))
	fmt.Fprintf(&b, "  tags: [%s]\n", mistralTag)
	b.WriteString("  base: std.http\n  base-input:\n")
	fmt.Fprintf(&b, "    url: %s\n", yamlString(o.Server+"/v1/actions/"+a.Name()))
	b.WriteString("    method: POST\n    headers:\n      Content-Type: application/json\n")
	fmt.Fprintf(&b, "      X-Auth-Token: %s\n", yamlString(o.Token))
	fmt.Fprintf(&b, "    body: %s\n", yamlString("<% dict("+strings.Join(body, ", ")+").items().where($[1] != null).toDict($[0], $[1]) %>"))
	fmt.Fprintf(&b, "    timeout: %d\n", int(o.Timeout/time.Second))
	if o.Verify != "" {
		fmt.Fprintf(&b, "    verify: %s\n", yamlString(o.Verify))
	}
	if len(names) > 0 {
		b.WriteString("  input:\n")
	}
	for _, n := range names {
		def := sch.Properties[n].Default
		switch {
		case slices.Contains(sch.Required, n):
			fmt.Fprintf(&b, "    - %s\n", n)
		case len(def) > 0:
			fmt.Fprintf(&b, "    - %s: %s\n", n, bytes.TrimSpace(def))
		default:
			fmt.Fprintf(&b, "    - %s: null\n", n)
		}
	}
	b.WriteString("  output: \"<% $.content.result %>\"\n")
	return []byte(b.String()), nil
}

var topLevelKey = regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_.-]*):[ \t]*$`)

// taggedWorkflows returns a definition with the tag "fernetflow" added to
// each of its workflows, and their names. Nothing else changes: Mistral
// resolves their actions (fleet.check, ...) to the ad-hoc actions of the
// same names.
func taggedWorkflows(src []byte) ([]byte, []string) {
	var names []string
	out := topLevelKey.ReplaceAllFunc(src, func(line []byte) []byte {
		name := topLevelKey.FindSubmatch(line)[1]
		if string(name) == "version" {
			return line
		}
		names = append(names, string(name))
		return append(append([]byte{}, line...), []byte("\n  tags: ["+mistralTag+"]")...)
	})
	return out, names
}

// cronInput is the rotation's input the cron trigger passes.
func (r *registerFlags) cronInput() map[string]any {
	return map[string]any{
		"stack": r.stack, "role": r.role, "max_active_keys": r.maxActive,
		"token_expiration": int64(r.exp / time.Second), "allow_expired_window": int64(r.window / time.Second),
		"concurrency": r.conc, "timeout": int64(r.expire / time.Second), "dry_run": false,
	}
}

// putCronTrigger creates the cron trigger, or replaces it when it differs
// (Mistral cannot update one).
func (a *app) putCronTrigger(ctx context.Context, api *mistralAPI, r *registerFlags) (string, error) {
	var cur struct {
		Pattern             string `json:"pattern"`
		WorkflowName        string `json:"workflow_name"`
		WorkflowInput       string `json:"workflow_input"`
		RemainingExecutions *int   `json:"remaining_executions"`
	}
	err := api.do(ctx, http.MethodGet, "cron_triggers/"+url.PathEscape(r.cronName), "", nil, []int{200}, &cur)
	result := "created"
	switch {
	case statusOf(err) == http.StatusNotFound:
	case err != nil:
		return "", err
	default:
		var in map[string]any
		_ = json.Unmarshal([]byte(cur.WorkflowInput), &in)
		want, _ := json.Marshal(r.cronInput())
		got, _ := json.Marshal(in)
		if cur.Pattern == r.schedule && cur.WorkflowName == "rotate_fernet_keys" && bytes.Equal(want, got) && r.cronRemaining == 0 {
			return "unchanged", nil
		}
		if err := api.delete(ctx, "cron_triggers", r.cronName); err != nil {
			return "", err
		}
		result = "replaced"
	}
	cctx, cancel := context.WithTimeout(ctx, api.timeout)
	defer cancel()
	_, err = crontriggers.Create(cctx, api.c, crontriggers.CreateOpts{
		Name: r.cronName, Pattern: r.schedule, WorkflowName: "rotate_fernet_keys",
		WorkflowInput: r.cronInput(), RemainingExecutions: r.cronRemaining,
	}).Extract()
	if err != nil {
		return "", fmt.Errorf("mistral: create cron trigger %s: %w", r.cronName, err)
	}
	return result, nil
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
			api := &mistralAPI{c: c, timeout: m.timeout}
			var report registeredRows
			for _, kind := range []struct{ path, label string }{{"cron_triggers", "cron trigger"}, {"workflows", "workflow"}, {"actions", "action"}} {
				items, err := api.list(ctx, kind.path)
				if err != nil {
					return err
				}
				for _, it := range items {
					ours := slices.Contains(it.Tags, mistralTag) && !it.IsSystem
					if kind.path == "cron_triggers" {
						ours = strings.HasPrefix(it.Name, mistralTag)
					}
					if !ours {
						continue
					}
					if err := api.delete(ctx, kind.path, it.Name); err != nil {
						return err
					}
					report = append(report, registered{kind.label, it.Name, "deleted"})
				}
			}
			return a.print(report)
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
			api := &mistralAPI{c: c, timeout: m.timeout}
			cctx, cancel := context.WithTimeout(ctx, m.timeout)
			defer cancel()
			if len(args) == 1 {
				ex, err := executions.Get(cctx, c, args[0]).Extract()
				if err != nil {
					return fmt.Errorf("mistral: execution %s: %w", args[0], err)
				}
				v := viewExecution(*ex)
				v.Input, v.Output = ex.Input, ex.Output
				var tasks struct {
					Tasks []struct {
						Name      string  `json:"name"`
						State     string  `json:"state"`
						StateInfo *string `json:"state_info"`
					} `json:"tasks"`
				}
				if err := api.do(ctx, http.MethodGet, "executions/"+url.PathEscape(ex.ID)+"/tasks", "", nil, []int{200}, &tasks); err != nil {
					return err
				}
				for _, t := range tasks.Tasks {
					mt := mistralTask{Name: t.Name, State: t.State}
					if t.StateInfo != nil {
						mt.StateInfo = *t.StateInfo
					}
					v.Tasks = append(v.Tasks, mt)
				}
				return a.print(&v)
			}
			if len(wfs) == 0 {
				for _, f := range definitions.Names() {
					src, _ := definitions.Source(f)
					_, names := taggedWorkflows(src)
					wfs = append(wfs, names...)
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
