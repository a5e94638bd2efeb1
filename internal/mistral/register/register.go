package register

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/crontriggers"
	gcworkflows "github.com/gophercloud/gophercloud/v2/openstack/workflow/v2/workflows"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/fernetflow/fernetflow/internal/mistral/actions"
	"github.com/fernetflow/fernetflow/internal/mistral/workflows"
	"github.com/fernetflow/fernetflow/workflow"
)

// Results of Register and Unregister.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
	Replaced  = "replaced" // a cron trigger, which Mistral cannot update
	Deleted   = "deleted"
)

// Kinds of what Register and Unregister touch.
const (
	KindAction      = "action"
	KindWorkflow    = "workflow"
	KindCronTrigger = "cron trigger"
)

// Item is one thing Register or Unregister touched, and what became of it.
type Item struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Result string `json:"result"`
}

// Definition is one workflow definition file.
type Definition struct {
	Name   string // the file's name, for errors
	Source []byte // Mistral workflow language
}

// Cron is the cron trigger Register puts: it runs Workflow with Input on
// Pattern.
type Cron struct {
	// Name must start with Tag: Unregister finds it by that.
	Name string
	// Pattern is a cron pattern (UTC).
	Pattern string
	// Workflow is the workflow to run.
	Workflow string
	// Input is the workflow's input.
	Input map[string]any
	// RemainingExecutions stops the trigger after this many runs (0:
	// never).
	RemainingExecutions int
}

// Options say what Register puts into Mistral.
type Options struct {
	// Catalog holds the actions to register, each as an ad-hoc action of
	// the same name; Mistral's own (std.*) must not be in it.
	Catalog workflow.Registry
	// Definitions are the workflows to register, tagged.
	Definitions []Definition
	// Action shapes the ad-hoc actions.
	Action ActionOptions
	// ActionsOnly registers only the actions the Definitions call: no
	// workflow, no cron trigger (a Heat stack owns those).
	ActionsOnly bool
	// Cron, when not nil and not ActionsOnly, is the cron trigger.
	Cron *Cron
	// Timeout bounds each call to Mistral, retries included (0: none
	// but the client's own).
	Timeout time.Duration
}

// Register creates or updates, in Mistral, one ad-hoc action per action
// of the catalog (or, with ActionsOnly, per action the definitions call),
// the definitions' workflows tagged Tag, and the cron trigger. What is
// already right is left alone: each Item says created, updated, unchanged
// or (a cron trigger that differed) replaced. It stops at the first
// failure, returning what it did so far.
func Register(ctx context.Context, client *gophercloud.ServiceClient, opts Options) ([]Item, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	names := opts.Catalog.Names()
	if opts.ActionsOnly {
		var err error
		if names, err = WorkflowActions(opts.Catalog, opts.Definitions); err != nil {
			return nil, err
		}
	}
	m := mistral{client, opts.Timeout}
	var report []Item
	for _, n := range names {
		act, _ := opts.Catalog.Lookup(n)
		def, err := AdhocAction(act, opts.Action)
		if err != nil {
			return report, err
		}
		res, err := m.putAction(ctx, n, def)
		if err != nil {
			return report, err
		}
		report = append(report, Item{KindAction, n, res})
	}
	if opts.ActionsOnly {
		return report, nil
	}
	for _, d := range opts.Definitions {
		def, names, err := TagWorkflows(d.Source)
		if err != nil {
			return report, fmt.Errorf("%s: %w", d.Name, err)
		}
		if len(names) == 0 {
			continue
		}
		// One document: create or update puts all its workflows.
		res, err := m.putWorkflows(ctx, names[0], def)
		if err != nil {
			return report, err
		}
		for _, n := range names {
			report = append(report, Item{KindWorkflow, n, res})
		}
	}
	if opts.Cron != nil {
		res, err := m.putCronTrigger(ctx, *opts.Cron)
		if err != nil {
			return report, err
		}
		report = append(report, Item{KindCronTrigger, opts.Cron.Name, res})
	}
	return report, nil
}

func (o *Options) check() error {
	if o.Catalog == nil {
		return errors.New("mistral: register: no action catalog")
	}
	if u, err := url.Parse(o.Action.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("mistral: register: action server %q: want http(s)://HOST[:PORT]", o.Action.Server)
	}
	if !o.ActionsOnly && o.Cron != nil && !strings.HasPrefix(o.Cron.Name, Tag) {
		return fmt.Errorf("mistral: register: cron trigger %q: its name must start with %q (unregister finds it by that)", o.Cron.Name, Tag)
	}
	return nil
}

// WorkflowActions lists, sorted, the actions the definitions call that
// Mistral does not have itself (std.* are Mistral's own). Each must be in
// the catalog.
func WorkflowActions(catalog workflow.Registry, defs []Definition) ([]string, error) {
	seen := map[string]bool{}
	for _, d := range defs {
		f, err := workflow.Parse(d.Name, d.Source)
		if err != nil {
			return nil, fmt.Errorf("mistral: %w", err)
		}
		for _, w := range f.Workflows {
			for _, t := range w.Tasks {
				if t.Action == "" || strings.HasPrefix(t.Action, "std.") || seen[t.Action] {
					continue
				}
				if _, ok := catalog.Lookup(t.Action); !ok {
					return nil, fmt.Errorf("mistral: workflow %s, task %s calls %s, which the action server does not serve", w.Name, t.Name, t.Action)
				}
				seen[t.Action] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// WorkflowNames lists the workflows of the definitions, in order.
func WorkflowNames(defs []Definition) ([]string, error) {
	var all []string
	for _, d := range defs {
		_, names, err := TagWorkflows(d.Source)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		all = append(all, names...)
	}
	return all, nil
}

// Unregister deletes, in this order, the cron triggers whose names start
// with Tag, the workflows tagged Tag and the ad-hoc actions tagged Tag.
// Nothing else is touched; executions stay in Mistral's history. timeout
// bounds each call (0: none but the client's own).
func Unregister(ctx context.Context, client *gophercloud.ServiceClient, timeout time.Duration) ([]Item, error) {
	m := mistral{client, timeout}
	var report []Item
	ours, err := m.listCronTriggers(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range ours {
		if err := m.call(ctx, func(ctx context.Context) error { return crontriggers.Delete(ctx, client, n).ExtractErr() }, "delete cron trigger "+n); err != nil {
			return report, err
		}
		report = append(report, Item{KindCronTrigger, n, Deleted})
	}
	if ours, err = m.listWorkflows(ctx); err != nil {
		return report, err
	}
	for _, n := range ours {
		if err := m.call(ctx, func(ctx context.Context) error { return gcworkflows.Delete(ctx, client, n).ExtractErr() }, "delete workflow "+n); err != nil {
			return report, err
		}
		report = append(report, Item{KindWorkflow, n, Deleted})
	}
	if ours, err = m.listActions(ctx); err != nil {
		return report, err
	}
	for _, n := range ours {
		if err := m.call(ctx, func(ctx context.Context) error { return actions.Delete(ctx, client, n).ExtractErr() }, "delete action "+n); err != nil {
			return report, err
		}
		report = append(report, Item{KindAction, n, Deleted})
	}
	return report, nil
}

// mistral makes each call under its own timeout.
type mistral struct {
	c       *gophercloud.ServiceClient
	timeout time.Duration
}

// call runs f under m's timeout; a 404 (gone meanwhile) is no error for
// a delete. what names the call in the error.
func (m mistral) call(ctx context.Context, f func(context.Context) error, what string) error {
	if m.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	err := f(ctx)
	if err != nil && strings.HasPrefix(what, "delete ") && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mistral: %s: %w", what, err)
	}
	return nil
}

// putAction creates or updates the ad-hoc action name from def.
func (m mistral) putAction(ctx context.Context, name string, def []byte) (string, error) {
	var cur *actions.Action
	err := m.call(ctx, func(ctx context.Context) (err error) {
		cur, err = actions.Get(ctx, m.c, name).Extract()
		return err
	}, "get action "+name)
	create := func(ctx context.Context) error {
		_, err := actions.Create(ctx, m.c, actions.CreateOpts{Definition: bytes.NewReader(def)}).Extract()
		return err
	}
	update := func(ctx context.Context) error {
		_, err := actions.Update(ctx, m.c, actions.UpdateOpts{Definition: bytes.NewReader(def)}).Extract()
		return err
	}
	return m.put(ctx, "action "+name, err, cur != nil && cur.Definition == string(def), create, update)
}

// putWorkflows creates or updates the workflows of def, name its first.
func (m mistral) putWorkflows(ctx context.Context, name string, def []byte) (string, error) {
	var cur *gcworkflows.Workflow
	err := m.call(ctx, func(ctx context.Context) (err error) {
		cur, err = gcworkflows.Get(ctx, m.c, url.PathEscape(name)).Extract()
		return err
	}, "get workflow "+name)
	create := func(ctx context.Context) error {
		_, err := gcworkflows.Create(ctx, m.c, gcworkflows.CreateOpts{Definition: bytes.NewReader(def)}).Extract()
		return err
	}
	update := func(ctx context.Context) error {
		_, err := workflows.Update(ctx, m.c, workflows.UpdateOpts{Definition: bytes.NewReader(def)}).Extract()
		return err
	}
	return m.put(ctx, "workflow "+name, err, cur != nil && cur.Definition == string(def), create, update)
}

// put creates what getErr says is missing (a 404), updating it instead
// when it was created meanwhile (a 409), or updates it unless same.
func (m mistral) put(ctx context.Context, what string, getErr error, same bool, create, update func(context.Context) error) (string, error) {
	switch {
	case gophercloud.ResponseCodeIs(getErr, http.StatusNotFound):
		err := m.call(ctx, create, "create "+what)
		if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			if err != nil {
				return "", err
			}
			return Created, nil
		}
	case getErr != nil:
		return "", getErr
	case same:
		return Unchanged, nil
	}
	if err := m.call(ctx, update, "update "+what); err != nil {
		return "", err
	}
	return Updated, nil
}

// putCronTrigger creates c, or replaces the trigger of that name when it
// differs (Mistral cannot update one).
func (m mistral) putCronTrigger(ctx context.Context, c Cron) (string, error) {
	var cur *crontriggers.CronTrigger
	err := m.call(ctx, func(ctx context.Context) (err error) {
		cur, err = crontriggers.Get(ctx, m.c, url.PathEscape(c.Name)).Extract()
		return err
	}, "get cron trigger "+c.Name)
	result := Created
	switch {
	case gophercloud.ResponseCodeIs(err, http.StatusNotFound):
	case err != nil:
		return "", err
	default:
		want, _ := json.Marshal(c.Input)
		got, _ := json.Marshal(cur.WorkflowInput)
		if cur.Pattern == c.Pattern && cur.WorkflowName == c.Workflow && bytes.Equal(want, got) && c.RemainingExecutions == 0 {
			return Unchanged, nil
		}
		if err := m.call(ctx, func(ctx context.Context) error {
			return crontriggers.Delete(ctx, m.c, url.PathEscape(c.Name)).ExtractErr()
		}, "delete cron trigger "+c.Name); err != nil {
			return "", err
		}
		result = Replaced
	}
	err = m.call(ctx, func(ctx context.Context) error {
		_, err := crontriggers.Create(ctx, m.c, crontriggers.CreateOpts{
			Name: c.Name, Pattern: c.Pattern, WorkflowName: c.Workflow,
			WorkflowInput: c.Input, RemainingExecutions: c.RemainingExecutions,
		}).Extract()
		return err
	}, "create cron trigger "+c.Name)
	if err != nil {
		return "", err
	}
	return result, nil
}

// maxPages bounds each listing: Mistral's pages hold up to listLimit items.
const (
	maxPages  = 100
	listLimit = 500
)

// each reads the pages of pager, at most maxPages, under m's timeout.
func (m mistral) each(ctx context.Context, what string, pager pagination.Pager, f func(pagination.Page) error) error {
	pages := 0
	err := m.call(ctx, func(ctx context.Context) error {
		return pager.EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			if pages++; pages > maxPages {
				return false, fmt.Errorf("more than %d pages", maxPages)
			}
			return true, f(p)
		})
	}, "list "+what)
	return err
}

func (m mistral) listCronTriggers(ctx context.Context) ([]string, error) {
	var ours []string
	err := m.each(ctx, "cron triggers", crontriggers.List(m.c, crontriggers.ListOpts{Limit: listLimit}), func(p pagination.Page) error {
		var s struct {
			CronTriggers []struct {
				Name string `json:"name"`
			} `json:"cron_triggers"`
		}
		if err := p.(crontriggers.CronTriggerPage).ExtractInto(&s); err != nil {
			return err
		}
		for _, ct := range s.CronTriggers {
			if strings.HasPrefix(ct.Name, Tag) {
				ours = append(ours, ct.Name)
			}
		}
		return nil
	})
	return ours, err
}

// tagged is what Unregister reads of a workflow or an action.
type tagged struct {
	Name     string   `json:"name"`
	Tags     []string `json:"tags"`
	IsSystem bool     `json:"is_system"`
}

func (t tagged) ours() bool { return slices.Contains(t.Tags, Tag) && !t.IsSystem }

func (m mistral) listWorkflows(ctx context.Context) ([]string, error) {
	var ours []string
	err := m.each(ctx, "workflows", gcworkflows.List(m.c, gcworkflows.ListOpts{Limit: listLimit}), func(p pagination.Page) error {
		var s struct {
			Workflows []tagged `json:"workflows"`
		}
		if err := p.(gcworkflows.WorkflowPage).ExtractInto(&s); err != nil {
			return err
		}
		for _, w := range s.Workflows {
			if w.ours() {
				ours = append(ours, w.Name)
			}
		}
		return nil
	})
	return ours, err
}

func (m mistral) listActions(ctx context.Context) ([]string, error) {
	var ours []string
	err := m.each(ctx, "actions", actions.List(m.c, actions.ListOpts{Limit: listLimit}), func(p pagination.Page) error {
		page, err := actions.ExtractActions(p)
		for _, a := range page {
			if (tagged{a.Name, a.Tags, a.IsSystem}).ours() {
				ours = append(ours, a.Name)
			}
		}
		return err
	})
	return ours, err
}
