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
// DELETE, POST /workflows/validate), with Options.SystemDefinitions served
// as public system workflows (serve gives fernetflow's own); executions
// (POST answers 201 RUNNING and runs in the background; GET list and one;
// PUT description or state; DELETE; params.env as an object or an
// environment's name, and params.task_name for reverse workflows);
// workbooks (POST and PUT text/plain, GET list and one, DELETE, POST
// /workbooks/validate; their workflows are named WORKBOOK.WORKFLOW and
// show their own text as definition, their actions become ad-hoc actions
// WORKBOOK.ACTION; as Mistral 15, DELETE leaves both); actions (GET list
// and one: the registry's actions as is_system with their input
// signature, and ad-hoc actions; POST and PUT text/plain ad-hoc actions,
// DELETE); tasks (GET list and one, /executions/{id}/tasks); action
// executions (GET, one per ACTION task run, and the runs of POST, which
// runs an action directly: synchronously, or recorded with params
// {"save_result": true}; PUT completes an asynchronous one; DELETE of an
// ended run, where Mistral's default configuration forbids deleting);
// cron triggers (POST, GET list and one, DELETE); environments (CRUD);
// services (GET: this process); and event triggers (POST, PUT, GET,
// DELETE: stored, never fired, as no notification bus is listened to).
// Sub-workflows resolve across definitions (the execution's namespace,
// then the default one), and their executions are listed under their
// root (root_execution_id, task_execution_id).
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
// mistral_cron_triggers, mistral_event_triggers, mistral_actions,
// mistral_action_runs, mistral_environments beside the engine's executions and the store's
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
