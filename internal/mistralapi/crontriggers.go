package mistralapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// colCronTriggers holds the API's side of a cron trigger (cronRecord by
// the store trigger's id); the schedule itself is a store trigger named
// PROJECT/NAME, which store.ClaimDue advances.
const colCronTriggers store.Collection = "mistral_cron_triggers"

type cronRecord struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	ProjectID           string         `json:"project_id"`
	WorkflowID          string         `json:"workflow_id"`
	WorkflowName        string         `json:"workflow_name"`
	WorkflowNamespace   string         `json:"workflow_namespace"`
	WorkflowInput       map[string]any `json:"workflow_input"`
	WorkflowParams      map[string]any `json:"workflow_params"`
	Pattern             string         `json:"pattern"`
	FirstExecutionTime  *time.Time     `json:"first_execution_time"`
	RemainingExecutions *int           `json:"remaining_executions"` // as created (uniqueness)
	CreatedAt           time.Time      `json:"created_at"`
	// TrustID is the Keystone trust from the creator to fernetflow's
	// service user (Options.Trusts), empty without one. Only the id is
	// kept: the trigger holds no token.
	TrustID string `json:"trust_id,omitempty"`
}

// storeName is the store trigger's name: unique per project, as Mistral's
// (name, project_id) constraint.
func (t *cronRecord) storeName() string { return t.ProjectID + "/" + t.Name }

var cronTriggerKind = listKind{
	name: "cron_triggers",
	fields: []string{"id", "name", "workflow_name", "workflow_id", "workflow_input", "workflow_params", "project_id",
		"scope", "pattern", "remaining_executions", "first_execution_time", "next_execution_time", "created_at", "updated_at"},
	filterable: []string{"id", "name", "workflow_name", "workflow_id", "workflow_input", "workflow_params",
		"scope", "pattern", "remaining_executions", "first_execution_time", "next_execution_time", "created_at", "updated_at"},
}

func (s *Server) cronTriggers() ([]*cronRecord, error) {
	return loadAll[cronRecord](s.opts.Store, colCronTriggers, "cron trigger")
}

// cronTrigger is a live trigger: its record and its schedule. A record
// whose store trigger is gone (used up) is deleted and not returned.
type cronTrigger struct {
	rec   *cronRecord
	sched *workflow.CronTrigger
}

func (s *Server) liveCronTriggers(c *caller, all bool) ([]cronTrigger, error) {
	recs, err := s.cronTriggers()
	if err != nil {
		return nil, err
	}
	scheds, err := s.opts.Store.ListTriggers()
	if err != nil {
		return nil, err
	}
	byID := map[string]*workflow.CronTrigger{}
	for _, t := range scheds {
		byID[t.ID] = t
	}
	var out []cronTrigger
	for _, r := range recs {
		sched := byID[r.ID]
		if sched == nil {
			_ = s.opts.Store.DeleteRecord(colCronTriggers, r.ID)
			continue
		}
		if all || r.ProjectID == c.ProjectID {
			out = append(out, cronTrigger{r, sched})
		}
	}
	return out, nil
}

func renderCronTrigger(t cronTrigger) resource {
	var first any
	if t.rec.FirstExecutionTime != nil {
		first = timestamp(*t.rec.FirstExecutionTime)
	}
	var remaining any
	if t.sched.RemainingExecutions != nil {
		remaining = *t.sched.RemainingExecutions
	}
	updated := t.sched.UpdatedAt
	if updated.Equal(t.rec.CreatedAt) {
		updated = time.Time{}
	}
	var pattern any
	if t.rec.Pattern != "" {
		pattern = t.rec.Pattern
	}
	return withSortTimes(resource{
		"id": t.rec.ID, "name": t.rec.Name, "workflow_name": t.rec.WorkflowName, "workflow_id": t.rec.WorkflowID,
		"workflow_input": jsonString(orEmpty(t.rec.WorkflowInput)), "workflow_params": jsonString(orEmpty(t.rec.WorkflowParams)),
		"project_id": t.rec.ProjectID, "scope": "private", "pattern": pattern, "remaining_executions": remaining,
		"first_execution_time": first, "next_execution_time": timestamp(t.sched.NextExecutionTime),
		"created_at": timestamp(t.rec.CreatedAt), "updated_at": timestamp(updated),
	}, map[string]time.Time{"created_at": t.rec.CreatedAt, "updated_at": updated, "next_execution_time": t.sched.NextExecutionTime})
}

// parseFirstTime reads Mistral's first_execution_time: "YYYY-MM-DD HH:MM"
// (OSC, Heat, gophercloud), seconds allowed, UTC.
func parseFirstTime(s string) (*time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04", timeFormat, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, badRequest("Invalid first_execution_time %q: use the format YYYY-MM-DD HH:MM (UTC)", s)
}

// createCronTrigger is POST /v2/cron_triggers: 201; 400 for a bad
// schedule, 404 for an unknown workflow, 409 for a taken name or an
// identical trigger of the project.
func (s *Server) createCronTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body struct {
		Name                string    `json:"name"`
		WorkflowName        string    `json:"workflow_name"`
		WorkflowID          string    `json:"workflow_id"`
		WorkflowInput       jsonField `json:"workflow_input"`
		WorkflowParams      jsonField `json:"workflow_params"`
		Pattern             string    `json:"pattern"`
		FirstExecutionTime  *string   `json:"first_execution_time"`
		RemainingExecutions *intField `json:"remaining_executions"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	var remaining *int
	if body.RemainingExecutions != nil {
		if body.RemainingExecutions.bad != "" {
			return badRequest("Invalid input for field/attribute remaining_executions. Value: '%s'. unable to convert to int", body.RemainingExecutions.bad)
		}
		remaining = &body.RemainingExecutions.n
	}
	input, err := body.WorkflowInput.object("workflow_input")
	if err != nil {
		return err
	}
	params, err := body.WorkflowParams.object("workflow_params")
	if err != nil {
		return err
	}
	if body.Name == "" {
		return badRequest("Cron trigger name must be provided.")
	}
	if remaining != nil && *remaining < 1 {
		return badRequest("Invalid input for field/attribute remaining_executions. Value: '%d'. Value should be greater or equal to 1", *remaining)
	}
	var first *time.Time
	if body.FirstExecutionTime != nil && *body.FirstExecutionTime != "" {
		if first, err = parseFirstTime(*body.FirstExecutionTime); err != nil {
			return err
		}
	}
	if body.Pattern == "" && first == nil {
		return badRequest("Pattern or first_execution_time must be specified.")
	}
	if body.Pattern == "" && remaining != nil && *remaining > 1 {
		// Checked before the workflow is looked up, as Mistral does.
		return badRequest("Pattern must be provided if count is superior to 1.")
	}
	ident := body.WorkflowID
	if ident == "" {
		ident = body.WorkflowName
	}
	if ident == "" {
		return badRequest("Workflow ID or workflow name must be provided.")
	}
	namespace, _ := params["namespace"].(string)
	wf, err := s.findWorkflow(c, ident, namespace)
	if err != nil {
		return err
	}
	rec := &cronRecord{Name: body.Name, ProjectID: c.ProjectID, WorkflowID: wf.ID, WorkflowName: wf.Name,
		WorkflowNamespace: wf.Namespace, WorkflowInput: input, WorkflowParams: params, Pattern: body.Pattern,
		FirstExecutionTime: first, RemainingExecutions: remaining}
	sched, err := workflow.NewCronTrigger(rec.storeName(), body.Pattern, first, remaining, s.now())
	if err != nil {
		return badRequest("%s", strings.TrimPrefix(err.Error(), "cron trigger "+rec.storeName()+": "))
	}
	sched.WorkflowName, sched.WorkflowInput, sched.Definition, sched.SourceFile = wf.Name, input, wf.Definition, "mistral-api"
	rec.ID, rec.CreatedAt = sched.ID, sched.CreatedAt
	if first != nil {
		f := sched.NextExecutionTime
		rec.FirstExecutionTime = &f
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	existing, err := s.liveCronTriggers(c, false)
	if err != nil {
		return err
	}
	for _, e := range existing {
		o := e.rec
		if o.Name == rec.Name {
			return conflict("Duplicate entry for cron trigger ['name', 'project_id']: %s, %s", rec.Name, rec.ProjectID)
		}
		if o.WorkflowID == rec.WorkflowID && o.Pattern == rec.Pattern && equalTime(o.FirstExecutionTime, rec.FirstExecutionTime) &&
			equalInt(o.RemainingExecutions, rec.RemainingExecutions) && reflect.DeepEqual(orEmpty(o.WorkflowInput), orEmpty(rec.WorkflowInput)) &&
			reflect.DeepEqual(orEmpty(o.WorkflowParams), orEmpty(rec.WorkflowParams)) {
			return conflict("Duplicate entry for cron trigger ['workflow_input_hash', 'workflow_name', 'pattern', 'project_id', 'workflow_params_hash', 'remaining_executions', 'first_execution_time']: %s", o.Name)
		}
	}
	if s.opts.Trusts != nil {
		// As Mistral: the creator delegates its roles on the project to
		// the service user, so that the trigger fires as the creator.
		id, err := s.opts.Trusts.Create(r.Context(), r.Header.Get(actions.TokenHeader), c.Caller)
		switch {
		case errors.Is(err, ErrTrustForbidden):
			return errorf(http.StatusForbidden, "Can not create the cron trigger's trust (the trigger fires as its creator through a Keystone trust; a trust-scoped token cannot delegate): %v", err)
		case err != nil:
			s.log.Error("cron trigger trust", "trigger", rec.Name, "project", rec.ProjectID, "err", err)
			return errorf(http.StatusServiceUnavailable, "Can not create the cron trigger's trust in Keystone: %v", err)
		}
		rec.TrustID = id
	}
	undo := func() {
		if rec.TrustID != "" {
			if err := s.opts.Trusts.Delete(context.WithoutCancel(r.Context()), rec.TrustID); err != nil {
				s.log.Warn("delete cron trigger trust", "trigger", rec.Name, "trust", rec.TrustID, "err", err)
			}
		}
	}
	if err := putJSON(s.opts.Store, colCronTriggers, rec.ID, rec); err != nil {
		undo()
		return err
	}
	if err := s.opts.Store.CreateTrigger(sched); err != nil {
		_ = s.opts.Store.DeleteRecord(colCronTriggers, rec.ID)
		undo()
		return conflict("Duplicate entry for cron trigger ['name', 'project_id']: %s, %s (%v)", rec.Name, rec.ProjectID, err)
	}
	writeJSON(w, http.StatusCreated, renderCronTrigger(cronTrigger{rec, sched}))
	return nil
}

func equalTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

func equalInt(a, b *int) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// findCronTrigger is the caller's trigger called (or with the id) ident.
func (s *Server) findCronTrigger(c *caller, ident string) (cronTrigger, error) {
	ts, err := s.liveCronTriggers(c, c.admin)
	if err != nil {
		return cronTrigger{}, err
	}
	var byName *cronTrigger
	for i, t := range ts {
		if t.rec.ID == ident {
			return t, nil
		}
		if t.rec.Name == ident && (byName == nil || t.rec.ProjectID == c.ProjectID) {
			byName = &ts[i]
		}
	}
	if byName == nil {
		return cronTrigger{}, notFound("Cron trigger not found [identifier=%s]", ident)
	}
	return *byName, nil
}

func (s *Server) getCronTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.findCronTrigger(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderCronTrigger(t))
	return nil
}

// deleteCronTrigger is DELETE /v2/cron_triggers/{name or id}: 204. The
// executions it started go on.
func (s *Server) deleteCronTrigger(w http.ResponseWriter, r *http.Request, c *caller) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findCronTrigger(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteTrigger(t.rec.storeName()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.opts.Store.DeleteRecord(colCronTriggers, t.rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.deleteTrust(r.Context(), t.rec)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listCronTriggers(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := parseList(r.URL.Query(), cronTriggerKind)
	if err != nil {
		return err
	}
	all, err := listScope(c, p, "cron_triggers:list:all_projects")
	if err != nil {
		return err
	}
	ts, err := s.liveCronTriggers(c, all)
	if err != nil {
		return err
	}
	var items []resource
	for _, t := range ts {
		if p.projectID != "" && t.rec.ProjectID != p.projectID {
			continue
		}
		items = append(items, renderCronTrigger(t))
	}
	return p.write(w, r, items, cronTriggerKind)
}

// FireTriggers fires the store's due cron triggers every tick until ctx
// ends. It replaces fallback.Run on a store the API serves: the API's
// triggers start executions of the API (in their project, with the
// workflow's current definition, cancellable through PUT and DELETE);
// every other trigger (fernetflow crontrigger create) is fired by
// fallback.Fire, as fallback.Run would. fallback may be nil when the store
// holds only the API's triggers.
func (s *Server) FireTriggers(ctx context.Context, fallback *store.Firer, tick time.Duration) error {
	if tick <= 0 {
		tick = time.Second
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		claims, err := s.opts.Store.ClaimDue(s.now())
		if err != nil {
			s.log.Error("claim cron triggers", "err", err)
		}
		for _, c := range claims {
			if err := s.fire(c); err == nil || !errors.Is(err, errNotAPITrigger) {
				if err != nil {
					s.log.Error("cron trigger", "trigger", c.Trigger.Name, "err", err)
				}
				continue
			}
			if fallback == nil {
				s.log.Error("cron trigger", "trigger", c.Trigger.Name, "err", "not a trigger of the API, and no fallback firer")
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := fallback.Fire(ctx, c); err != nil && fallback.OnError != nil {
					fallback.OnError(c, err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

var errNotAPITrigger = errors.New("not a cron trigger of the API")

// deleteTrust deletes a deleted trigger's trust, as Mistral: a failure is
// logged (the trigger is gone either way).
func (s *Server) deleteTrust(ctx context.Context, rec *cronRecord) {
	if rec.TrustID == "" || s.opts.Trusts == nil {
		return
	}
	if err := s.opts.Trusts.Delete(context.WithoutCancel(ctx), rec.TrustID); err != nil {
		s.log.Warn("delete cron trigger trust", "trigger", rec.Name, "project", rec.ProjectID, "trust", rec.TrustID, "err", err)
	}
}

// fire starts the execution of one claimed slot of an API trigger, as
// its project (Mistral fires as the trigger's creator through a trust;
// fernetflow's actions run with fernetflow's own credentials, so the
// project is all the execution needs).
func (s *Server) fire(cl store.Claim) error {
	b, err := s.opts.Store.GetRecord(colCronTriggers, cl.Trigger.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errNotAPITrigger
	}
	if err != nil {
		return err
	}
	var rec cronRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	usedUp := cl.Trigger.RemainingExecutions != nil && *cl.Trigger.RemainingExecutions <= 1
	if usedUp {
		_ = s.opts.Store.DeleteRecord(colCronTriggers, rec.ID) // used up: ClaimDue deleted its schedule
	}
	c := &caller{Caller: &actions.Caller{ProjectID: rec.ProjectID}}
	if rec.TrustID != "" && s.opts.Trusts != nil {
		// As its creator: Keystone gives the trust-scoped token only
		// while the trust holds (the creator still has the roles).
		as, err := s.opts.Trusts.Consume(s.ctx, rec.TrustID)
		if usedUp {
			defer s.deleteTrust(s.ctx, &rec)
		}
		if err != nil {
			return fmt.Errorf("cron trigger %s of project %s does not fire: its creator's trust %s: %w (recreate the trigger as a user of the project)", rec.Name, rec.ProjectID, rec.TrustID, err)
		}
		if as.ProjectID != rec.ProjectID {
			return fmt.Errorf("cron trigger %s of project %s does not fire: its trust %s is scoped to project %s", rec.Name, rec.ProjectID, rec.TrustID, as.ProjectID)
		}
		c = &caller{Caller: as}
	}
	_, ex, err := s.start(c, startRequest{WorkflowID: rec.WorkflowID, WorkflowNamespace: rec.WorkflowNamespace,
		Input: rec.WorkflowInput, Params: rec.WorkflowParams, CronTriggerID: rec.ID,
		Description: fmt.Sprintf("Workflow execution created by cron trigger '(%s)'.", rec.ID)})
	if err != nil {
		return fmt.Errorf("cron trigger %s of project %s: %w", rec.Name, rec.ProjectID, err)
	}
	s.log.Info("cron trigger fired", "trigger", rec.Name, "project", rec.ProjectID, "as_user", c.UserName, "slot", cl.Slot.UTC().Format(timeFormat), "execution", ex.ID)
	return nil
}
