/*
Package register puts fernetflow into an existing OpenStack Mistral, and
takes it out again.

Register creates or updates, through Mistral's v2 API:

  - one ad-hoc action per action of the catalog it is given, named as the
    Go action and tagged Tag: base std.http, POST
    ActionOptions.Server/v1/actions/NAME with the action's input as the
    JSON body, its output being the action server's "result"
    (AdhocAction makes its definition);
  - the workflow definitions, unchanged but for the tag (TagWorkflows);
  - the cron trigger, whose name starts with Tag.

Running it again changes nothing that is already right: each Item says
created, updated, unchanged or replaced. With Options.ActionsOnly it puts
only the actions the definitions call (WorkflowActions), for a Heat stack
that owns the workflow and its trigger. Unregister removes the cron
triggers whose names start with Tag and the workflows and actions tagged
Tag, and nothing else.

The catalog is the caller's: pass the actions the action server serves
(Mistral's own std.* are not to be registered). ActionOptions.Token is
KeystoneToken in production, so that each call carries the execution's own
token; a literal secret belongs in tests only, as it is written into the
definitions Mistral stores.

Both YAML documents are made through the YAML AST (gopkg.in/yaml.v3), not
by string building or regular expressions: an action's description or a
server URL cannot break out of its scalar, and TagWorkflows refuses a
document it cannot tag exactly instead of guessing. Errors name the
action, workflow or trigger they are about, and wrap the gophercloud
error, so that gophercloud.ResponseCodeIs still tells the HTTP status.
*/
package register

// Tag marks what Register puts into Mistral: actions and workflows carry
// it as a tag, cron triggers' names start with it.
const Tag = "fernetflow"
