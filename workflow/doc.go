// Package workflow parses, checks and runs Mistral DSL v2 workflows
// (direct workflows), with OpenStack Mistral 15 as the reference for what
// a file means and how it runs.
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
// A file holds version '2.0' and one or more workflows, or is a workbook
// (name:, actions:, workflows:) whose ad-hoc actions (base, base-input,
// input, output) tasks may call by short or qualified name. Reverse
// workflows and Jinja ({{ }}) are refused with a "not supported" error at
// their line rather than run wrongly.
//
// # Run a workflow
//
//	e := &workflow.Engine{Registry: reg, File: f, Recorder: store}
//	ex, err := e.Run(ctx, f.Workflows[0], map[string]any{"nodes": nodes})
//	// err: the run could not start (missing or unexpected input)
//	// ex.State: SUCCESS, ERROR or CANCELLED; ex.StateInfo says why
//
// The engine runs start tasks (the targets of no transition) at once, then
// follows on-success, on-error and on-complete (with <% %> conditions),
// join (all or N), and the engine commands fail, succeed and noop. publish
// and publish-on-error add to the context the next tasks see; the
// workflow's output is evaluated over the merged context of the tasks that
// ended a branch. Task policies: with-items (several lists are zipped) with
// concurrency, retry (count, delay, break-on, continue-on), wait-before,
// wait-after, timeout and keep-result. A task may run a sub-workflow of the
// same file. A workflow fails when a task fails and no on-error transition
// of that task fired, as in Mistral. Cancelling ctx cancels the execution.
//
// Where Mistral's behaviour is surprising, the engine follows it (each
// point is a case in testdata/conformance, checked against real Mistral 15
// by the integration suite): without an output section the output is what
// the ending branches published, not the input; a task whose input or
// with-items lists do not evaluate fails the whole workflow ("Failed to
// run task"), with no retry and no on-error; an unsatisfiable join ends in
// ERROR; plain yes/no/on/off are booleans, as in PyYAML.
//
// # Actions
//
// Actions come from a Registry (see Action for the contract). StdRegistry
// has std.noop, std.echo, std.fail, std.sleep and std.http. An action whose
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
