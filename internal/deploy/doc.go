/*
Package deploy reaches the Keystone nodes through Heat: it finds the
controller servers of the overcloud stack, pushes one software deployment
per server that os-collect-config picks up, receives each node's signal and
marks the deployment COMPLETE or FAILED, and waits for all of them.

# Connecting

NewOrchestrationClient is package cloud's: it reads clouds.yaml and the
OS_* variables exactly as the openstack CLI does (CloudOptions is
cloud.Options). The client re-authenticates once on a 401 and retries
transient failures (502, 503, 504; 500 and connection errors only for
idempotent methods) with exponential backoff; a POST is never sent twice
after a 500.

# Finding servers

DiscoverServers lists a stack's resources with nested depth and keeps the
servers of a role, by resource type (DefaultServerTypes) and a name
pattern. A server's ID is the resource's physical id, which is the
server_id Heat publishes deployments under. ResourceMetadata reads what
os-collect-config polls, as nested JSON.

# Deploying

Heat agents only read a deployment's inputs from a derived config whose
inputs carry values: DerivedConfig builds it as heatclient does. Push
creates the derived config and the deployment of each target (bounded
concurrency); the derived config tells the node to PUT its outputs to a
signal URL of a Receiver, a small HTTP server on 127.0.0.1 by default that
authenticates each signal with a per-deployment secret in the URL and marks
the Heat deployment COMPLETE (deploy_status_code 0) or FAILED. With a key
(ReceiverOptions.Key, LoadOrCreateSignalKey) the secrets are HMACs of
URL ids naming the server, so a restarted receiver on the same address
still accepts signals made before the restart. Wait polls
Heat with exponential backoff until every deployment is COMPLETE or FAILED,
or the total timeout passes: the error then names each server that did not
answer. Cleanup deletes the superseded fernetflow deployments of a server
(and their derived configs), so that its metadata does not grow without
bound.

# The Heat target

Host is what one process shares to talk to Heat: the cloud, one client and
one signal receiver, made on first use; Close stops the receiver.
FleetTarget is the fleet.Target over a Host: each Observe or Deliver is one
report or install deployment (ConfigFor) that the node applies with
`fernetflow node collect` or `node hook` and answers with its
wire.Observation in the signal. Whoever makes a FleetTarget closes it
through fleet.Target's Close, which stops the receiver; no caller needs its
type. This package imports fleet for that contract, never the reverse, and
never imports the node agent (package node): the undercloud compiles none
of it.

Errors name the server or stack they are about; nothing here logs secrets
(signal URLs carry a secret and are logged without it).
*/
package deploy
