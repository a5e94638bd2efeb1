package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/fernetflow/fernetflow/workflow"
)

// Firer runs the workflows of a store's cron triggers when their slots
// come, as Mistral's engine does for its cron triggers. Each slot fires
// once (ClaimDue), and every execution is recorded in the store.
type Firer struct {
	Store *Store
	// Registry is the actions the triggers' workflows may call.
	Registry workflow.Registry
	// Tick is how often due triggers are looked for (default 1s).
	Tick time.Duration
	// OnStart is called when a slot's execution has started, OnEnd when
	// it has ended, and OnError when a slot could not start (its workflow
	// no longer loads, say) or the store could not be read (zero Claim).
	// They may be nil, and must not block.
	OnStart, OnEnd func(Claim, *workflow.Execution)
	OnError        func(Claim, error)
	// Guard, when set, is called before a slot's workflow starts; an error
	// skips the slot (OnError says why), and release is called once the
	// execution has ended. It serialises runs that must not overlap (two
	// rotations of one fleet).
	Guard func(ctx context.Context, c Claim) (release func(), err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run fires due triggers until ctx is done, then waits for the executions
// it started, which ctx's end cancels.
func (f *Firer) Run(ctx context.Context) error {
	tick, now := f.Tick, f.Now
	if tick <= 0 {
		tick = time.Second
	}
	if now == nil {
		now = time.Now
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		claims, err := f.Store.ClaimDue(now().UTC())
		if err != nil {
			f.fail(Claim{}, fmt.Errorf("claim cron triggers: %w", err))
		}
		for _, c := range claims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.Fire(ctx, c); err != nil {
					f.fail(c, err)
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

// Fire runs one claimed slot's workflow to its end and records it. Its
// error is for a slot that could not start.
func (f *Firer) Fire(ctx context.Context, c Claim) (*workflow.Execution, error) {
	tr := c.Trigger
	file, err := workflow.Load(tr.SourceFile, []byte(tr.Definition), f.Registry)
	if err != nil {
		return nil, fmt.Errorf("cron trigger %s: its workflow no longer loads: %w", tr.Name, err)
	}
	w := file.Workflow(tr.WorkflowName)
	if w == nil {
		return nil, fmt.Errorf("cron trigger %s: workflow %s is not in its definition", tr.Name, tr.WorkflowName)
	}
	if f.Guard != nil {
		release, err := f.Guard(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("cron trigger %s: slot %s skipped: %w", tr.Name, c.Slot.UTC().Format("2006-01-02 15:04:05"), err)
		}
		defer release()
	}
	e := &workflow.Engine{Registry: f.Registry, File: file, Recorder: f.Store}
	ex, err := e.Start(w, tr.WorkflowInput)
	if err != nil {
		return nil, fmt.Errorf("cron trigger %s: %w", tr.Name, err)
	}
	slot := c.Slot.UTC().Format("2006-01-02 15:04:05")
	desc, _ := json.Marshal(map[string]any{
		"description":  fmt.Sprintf("Workflow execution created by cron trigger '(%s)'.", tr.ID),
		"triggered_by": map[string]any{"type": "cron_trigger", "id": tr.ID, "name": tr.Name, "slot": slot},
	})
	ex.Description = string(desc)
	if f.OnStart != nil {
		f.OnStart(c, ex)
	}
	ex = e.Continue(ctx, w, ex)
	if f.OnEnd != nil {
		f.OnEnd(c, ex)
	}
	return ex, nil
}

func (f *Firer) fail(c Claim, err error) {
	if f.OnError != nil {
		f.OnError(c, err)
	}
}
