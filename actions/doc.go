// Package actions is fernetflow's action set: the Go actions its
// workflows call (keys.*, fleet.*, node.enroll, heat.*) beside Mistral's
// std.*, described in one catalog and bound, for running, in one of two
// ways. It is fernetflow's own, not a general library: its hosts are
// built from fernetflow's internal packages.
//
// The catalog (All) lists every action with its name, description, input
// and output JSON Schemas (schemas/NAME.input.json and NAME.output.json,
// embedded), whether its output is secret, and what it needs to run
// (Need). It is what `fernetflow action list|show` prints and, through
// Catalog.Mistral, what `fernetflow mistral register` makes ad-hoc
// actions of. A Catalog is a workflow.Registry, but its descriptors never
// run: Engine(Host{}) is the registry that checks workflows
// (`fernetflow workflow validate`) as the engine will run them.
//
// To run actions, bind the catalog to a Host:
//
//	reg := actions.Engine(actions.Host{Fleet: fh})                  // the embedded engine
//	srv, err := actions.NewServer(actions.Served(host), opts)        // the HTTP action server
//
// Engine gives the embedded engine every action of the catalog; Served
// gives the action server all but std.* (Mistral has its own), with
// keys.status and keys.rotate held to the host's master repository
// whatever key_repository a caller names. Both bind every action they
// list: one whose Need the Host does not meet (no fleet target, no Heat
// cloud) refuses to run with an *UnboundError (errors.Is ErrUnbound;
// HTTP 501 on the action server), which names it and what it lacks. So an
// action the catalog lists validates everywhere, and runs, or is refused
// for that stated reason, alike in the engine and on the action server.
//
// Every action keeps workflow.Action's contract: an error from Run names
// what failed and holds no secret; a Secret output is redacted from
// executions and logs. The workflow engine never imports this package.
package actions
