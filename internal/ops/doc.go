// Package ops is what an operator watches: the fleet's status (fernetflow
// status), its Prometheus metrics (serve --metrics-listen, rotate
// --metrics-textfile), and the run records and counters they read.
//
// Build judges a fleet from what its nodes said (Observed: each local
// node's repository read now with InspectAll, or the newest report round
// a store keeps, LastReport, or a fresh one, FromExecution), the master,
// the store's history and cron triggers, and a Schedule; it changes
// nothing, and every problem it finds is a Warning with a stable code:
//
//	s, err := ops.Build(ctx, ops.Options{Undercloud: u, Servers: servers, Observed: ops.InspectAll(target, servers, time.Now()), Store: st})
//	if err != nil { ... }          // the store could not be read
//	if s.NeedsAttention() { ... }  // s.Warnings say what and why
//
// NewMetrics exposes a Status built on every scrape. RecordRun keeps a
// run's record (outcome, duration, refusal reasons, deliveries) and adds
// it to cumulative counters, in store collections beside the executions;
// call it once a run of fernetflow's workflows has ended.
//
// Nothing here holds key material, tokens or envelopes: fingerprints and
// key ids are in their 12-hex-digit short form, and the metrics carry
// generations, never fingerprints.
package ops
