/*
Package cloud turns clouds.yaml and the OS_* variables into authenticated
gophercloud clients, exactly as the openstack CLI reads them: the one place
where fernetflow's Heat and Mistral code connect to OpenStack.

The common case is one call per service:

	heat, err := cloud.NewOrchestrationClient(ctx, cloud.Options{Cloud: "undercloud"})
	mistral, err := cloud.NewWorkflowClient(ctx, cloud.Options{Cloud: "undercloud"})

Options.Cloud names a clouds.yaml entry and wins over OS_CLOUD; empty, the
entry is OS_CLOUD's, or the only one, or the OS_* variables describe the
cloud. A clouds.yaml entry's region and interface win over OS_REGION_NAME
and OS_INTERFACE; Options.RegionName and Options.Interface win over both.

To call several services with one token, Authenticate once and ask the
Provider for each service client. Options.Endpoint replaces the service
catalog's endpoint (as mistral --os-mistral-url does); Unauthenticated makes
a client for a service that runs without Keystone (tests only).

Every client re-authenticates once on a 401 with the stored credentials,
retries transient failures (502, 503, 504; 500 and connection errors only
for idempotent methods, so that a POST is never sent twice) with
exponential backoff, and refuses an answer over MaxResponse bytes instead
of holding it in memory.

An error that wraps ErrNoCredentials means no cloud was named and the
OS_* variables describe none: the caller should say how to name one. Other errors name the Keystone endpoint, the cloud or the service
they are about. Nothing here logs credentials or tokens.
*/
package cloud
