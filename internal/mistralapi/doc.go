// Package mistralapi serves OpenStack Mistral's v2 REST API on fernetflow's
// embedded engine, so that `openstack workflow ...`, python-mistralclient,
// gophercloud's workflow/v2 and Heat's OS::Mistral::* resources work with
// no Mistral installed.
//
//	srv, err := mistralapi.New(mistralapi.Options{
//		Store:    st,                               // workflow/store: definitions, executions, triggers
//		Registry: actions.Engine(host),             // fernetflow's own actions, native
//		Identify: keystone.Identify,                // *actions.KeystoneAuth: keystonemiddleware's check
//	})
//	mux.Handle("/", srv)                         // serves / (versions) and /v2/...
//	go srv.FireTriggers(ctx, fallbackFirer, time.Second)
//	defer srv.Close(ctx)
//
// # What is served
//
// Workflows (POST and PUT text/plain, GET list and one by name or id,
// DELETE, POST /workflows/validate), executions (POST answers 201 RUNNING
// and runs in the background; GET list and one; PUT description or state;
// DELETE; params.env, and params.task_name for reverse workflows),
// workbooks (POST and PUT text/plain, GET list and one, DELETE; their
// workflows are named WORKBOOK.WORKFLOW), tasks (GET list and one,
// /executions/{id}/tasks), action executions (GET, one per ACTION task
// run; PUT completes an asynchronous one), cron triggers (POST, GET list and one, DELETE) and event
// triggers (kept, never fired). Sub-workflows resolve across definitions
// (the execution's namespace, then the default one), and their executions
// are listed under their root (root_execution_id, task_execution_id).
// Lists take Mistral's limit,
// marker, sort_keys, sort_dirs, fields and filters (eq: neq: in: nin: gt:
// gte: lt: lte: has:), and answer an absolute next link when a limit
// filled the page. Errors are Mistral's {faultcode, faultstring,
// debuginfo} with its status codes and texts; timestamps are
// "YYYY-MM-DD HH:MM:SS" UTC; JSON-valued fields (input, output, params,
// published, result, workflow_input, ...) are answered as JSON strings and
// accepted as strings or objects.
//
// # Execution control
//
// The Server holds one workflow.Controller (Server.Controller), the
// Control of every engine it starts, cron-fired ones included. PUT
// /v2/executions/{id} with state PAUSED pauses, RUNNING resumes, SUCCESS,
// ERROR and CANCELLED stop (state_info is the message), with Mistral's
// rules: pausing a paused execution or resuming one that is not paused
// does nothing; ERROR leaves a paused or ended execution as it is,
// CANCELLED an ended one; SUCCESS on a paused or ended execution and
// PAUSED on an ended one are 400 ("Can't change workflow execution state
// from ..."). A paused execution keeps its engine waiting in this process
// until it is resumed or stopped; a restart ends it in ERROR like a
// running one. An asynchronous action (std.async_noop) leaves its task
// RUNNING until PUT /v2/action_executions/{id} sends its result (state
// SUCCESS or ERROR, output a JSON object), or until its timeout. Give
// Controller to store.ServeControl so that `fernetflow execution
// pause|resume|cancel` reach the server's executions (serve does).
//
// # Tenancy and policy
//
// Every resource belongs to the project of the token that created it.
// Another project's private resources are 404; public workflows are seen
// by all; an admin (Options.AdminRoles) reads any resource by id, and
// lists every project's with all_projects=true or project_id=. Where this
// differs from Mistral 15's default policy, it follows Mistral's devstack
// gate or Heat's needs: any project may create public workflows (Mistral:
// admins only), and DELETE of a running execution cancels it with or
// without force (Mistral: 403 without force, which makes Heat's stack
// delete fail).
//
// # Durability
//
// Definitions, executions and triggers live in the workflow/store file
// (collections mistral_workflows, mistral_workbooks, mistral_executions,
// mistral_cron_triggers, mistral_event_triggers beside the engine's executions and the store's
// triggers, which `fernetflow execution list` and `crontrigger list` also
// show). An execution runs in the process that started it: New ends in
// ERROR, with a state_info saying so, every execution of the API that a
// restart interrupted. Run one server per state directory.
//
// Cron triggers are store triggers named PROJECT/NAME; FireTriggers claims
// due slots (store.ClaimDue: each slot fires once across processes) and
// starts the workflow's current definition in the trigger's project.
// Triggers fire with fernetflow's own credentials: no Keystone trust is
// made, as fernetflow's actions never act as the trigger's creator.
package mistralapi
