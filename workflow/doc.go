// Package workflow parses, checks and runs Mistral DSL v2 workflows
// (direct and reverse workflows), with OpenStack Mistral 15 as the
// reference for what a file means and how it runs.
//
// # Check a file
//
//	f, err := workflow.Load("rotate.yaml", src, reg)
//	if err != nil {
//		return err // an ErrorList: "rotate.yaml:12:7: workflow w: task t: on-success: transition to unknown task ..."
//	}
//
// Load is Parse (YAML with goccy/go-yaml, then the JSON Schema in
// workflow/schema, then the structure) and File.Validate (transitions to
// unknown tasks, unknown actions, literal input an action's schema rejects,
// unreachable tasks, joins nobody reaches, expressions that do not parse).
// Every error names file:line:column, and the workflow, task and key.
// Some of them Mistral 15's parser does not reject (unknown actions and
// sub-workflows, action input, unreachable tasks, inline parameters it
// drops, keys written twice, target:): those have Error.Stricter set;
// Load refuses them all, Check and ErrorList.Split tell them apart, and
// workflow validate reports them as warnings, so that it rejects exactly
// what Mistral's parser rejects (checked on every file of testdata by the
// integration suite).
// A file holds version '2.0' and one or more workflows, or is a workbook
// (name:, actions:, workflows:) whose ad-hoc actions (base, base-input,
// input, output) tasks may call by short or qualified name; its workflows
// run as WORKBOOK.NAME (File.QualifiedName), as Mistral names them. As in
// Mistral, requires belongs to reverse workflows only, and transitions and
// join to direct ones.
//
// # Run a workflow
//
//	e := &workflow.Engine{Registry: reg, File: f, Recorder: store}
//	ex, err := e.Run(ctx, f.Workflows[0], map[string]any{"nodes": nodes})
//	// err: the run could not start (missing or unexpected input)
//	// ex.State: SUCCESS, ERROR, CANCELLED or PAUSED; ex.StateInfo says why
//
// StartWith takes Mistral's execution params: Env (what env() and
// execution().params.env give, passed on to sub-workflows), Namespace
// (execution().params.namespace, inherited by sub-workflows) and TaskName,
// the target a reverse workflow needs. A reverse run executes the target
// and what it requires, each task once its requirements succeeded; its
// output is the target's context. An execution paused by the pause
// command or pause-before (the task waits IDLE) is returned PAUSED once
// what still ran has ended; Resume continues it in the same process.
//
// # Control a running execution
//
// Give every Engine of a process one Controller (Engine.Control). Another
// goroutine, such as the Mistral API server of serve, then acts on an
// execution by its id, with Mistral 15's rules:
//
//	ctl := &workflow.Controller{}
//	e := &workflow.Engine{Registry: reg, File: f, Recorder: st, Control: ctl}
//	go e.Continue(ctx, w, ex)          // returns only once ex has ended
//	ctl.Pause(ex.ID)                   // PAUSED at once; running tasks finish, what follows waits
//	ctl.Resume(ex.ID)                  // RUNNING; held transitions and pause-before tasks go on
//	ctl.ResumeEnv(ex.ID, env)          // the same, env merged into the execution's first (PUT params.env)
//	ctl.UpdateEnv(ex.ID, env)          // a paused execution's env, merged; it stays paused
//	ctl.Stop(ex.ID, workflow.Failed, msg) // force-fail (Cancelled: cancel; Success: succeed)
//	ctl.CompleteAction(actionExID, result, nil) // an async action's result
//
// Pause and Resume reach the sub-workflows the execution runs first. Stop
// cancels the context of the tasks that still run (they end CANCELLED;
// Mistral leaves them RUNNING). As in Mistral, SUCCESS and ERROR do not
// apply to a PAUSED execution (it stays PAUSED), CANCELLED does. Every
// method returns an error wrapping ErrNotRunning for an id the controller
// does not run. With a Controller, Continue does not return a PAUSED
// execution: it waits for Resume or Stop. Without one, a pause returns
// PAUSED and Engine.Resume continues it.
//
// An asynchronous action returns ErrPending from Run (std.async_noop
// does): the task waits RUNNING, its action execution id in
// TaskExecution.ActionExecutionIDs and Controller.PendingActions, until
// CompleteAction gives a result or an error, or until the task's timeout
// ("Task timed out [timeout(s)=N].", as in Mistral).
//
// Across processes, package workflow/store carries requests
// (Store.RequestControl, Store.ServeControl): fernetflow execution
// pause|resume|cancel uses them to reach the serve or workflow run that
// runs an execution.
//
// The engine runs start tasks (the targets of no transition) at once, then
// follows on-success, on-error and on-complete (with <% %> conditions),
// join (all or N), and the engine commands fail (fail msg="..."),
// succeed, pause and noop. publish and publish-on-error add to the context
// the next tasks see; publish: {branch:, global:} in a transition
// publishes to the branch or to the execution (global(), and $. under what
// branches published), combined with publish as Mistral's get_publish
// does; the
// workflow's output is evaluated over the merged context of the tasks that
// ended a branch. Task policies: with-items (several lists are zipped) with
// concurrency, retry (count, delay, break-on, continue-on), wait-before,
// wait-after, timeout, keep-result, pause-before and fail-on (which fails
// a task after it published, so that retry and on-error apply). A task may run a sub-workflow of the
// same file. A workflow fails when a task fails and no on-error transition
// of that task fired, as in Mistral. Cancelling ctx cancels the execution.
//
// Where Mistral's behaviour is surprising, the engine follows it (each
// point is a case in testdata/conformance, checked against real Mistral 15
// by the integration suite): without an output section the output is what
// the ending branches published, not the input; a task whose input or
// with-items lists do not evaluate fails the whole workflow ("Failed to
// run task"), with no retry and no on-error; an unsatisfiable join ends in
// ERROR; plain yes/no/on/off are booleans, as in PyYAML; a failed
// execution's output is output-on-error, or when there is none what the
// ending branches published, plus result.
//
// # Actions
//
// Actions come from a Registry (see Action for the contract). StdRegistry
// has the standard actions of Mistral 15 that need no OpenStack service:
// std.noop, std.async_noop, std.echo, std.fail, std.sleep, std.http,
// std.test_dict and std.email (its smtp_server input is required).
// Validate refuses the others by name, saying why (RefusedStdActions:
// std.javascript, std.js, std.ssh, std.ssh_proxied, std.mistral_http). An action whose
// Secret reports true has its output redacted by Execution.Redacted, which
// a Recorder must use before it persists anything: the string values of
// a secret output are replaced wherever they were copied (published values,
// output, state_info). In memory, the execution's own expressions still see
// them.
//
// # Persistence and schedules
//
// Package workflow/store keeps executions in bbolt (a Recorder) and cron
// triggers (CronTrigger: Mistral's pattern, first execution time and
// remaining executions); its ClaimDue advances due triggers in one
// transaction so that each slot fires once across processes and restarts.
//
// # Expressions
//
// <% %> expressions are YAQL, evaluated by workflow/expr, with task(),
// execution() and env() supplied by the engine.
package workflow
