package testing

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
)

const (
	deploymentID = "3278ecaf-1111-2222-3333-444455556666"
	configID     = "9df4c3f5-5a2e-4d5b-9a5a-1b2c3d4e5f60"
	serverID     = "ctrl-0-fake-server"
)

// CreateRequest and DeploymentBody are the shapes Heat 19 took and gave in
// the reference notes.
const CreateRequest = `{"config_id":"` + configID + `","server_id":"` + serverID + `","action":"CREATE",
 "status":"IN_PROGRESS","status_reason":"Deploy data available","input_values":{"fernet_keys":{"0":"abc","1":"def"}}}`

const DeploymentBody = `{"software_deployment": {"id": "` + deploymentID + `", "server_id": "` + serverID + `",
  "input_values": {"fernet_keys": {"0": "abc", "1": "def"}}, "output_values": null,
  "action": "CREATE", "status": "IN_PROGRESS", "status_reason": "Deploy data available",
  "config_id": "` + configID + `", "creation_time": "2026-11-23T15:04:28Z"}}`

const UpdateRequest = `{"status":"COMPLETE","status_reason":"Outputs received",
 "output_values":{"deploy_stdout":"hello\n","deploy_stderr":"","deploy_status_code":0,"result":"ok"}}`

const UpdatedBody = `{"software_deployment": {"id": "` + deploymentID + `", "server_id": "` + serverID + `",
  "input_values": {"fernet_keys": {"0": "abc", "1": "def"}},
  "output_values": {"deploy_stdout": "hello\n", "deploy_stderr": "", "deploy_status_code": 0, "result": "ok"},
  "action": "CREATE", "status": "COMPLETE", "status_reason": "Outputs received",
  "config_id": "` + configID + `", "creation_time": "2026-11-23T15:04:28Z", "updated_time": "2026-11-23T15:05:01Z"}}`

const ListBody = `{"software_deployments": [` + `{"id": "` + deploymentID + `", "server_id": "` + serverID + `",
  "input_values": {}, "output_values": null, "action": "CREATE", "status": "IN_PROGRESS",
  "status_reason": "Deploy data available", "config_id": "` + configID + `", "creation_time": "2026-11-23T15:04:28"}]}`

const MetadataBody = `{"metadata": [{"id": "` + configID + `", "name": "fernetflow-install", "group": "fernetflow",
  "creation_time": "2026-11-23T15:04:28Z", "config": "install",
  "inputs": [{"name": "envelope", "type": "String", "value": "-----BEGIN AGE ENCRYPTED FILE-----"},
             {"name": "deploy_server_id", "type": "String", "value": "` + serverID + `"},
             {"name": "deploy_signal_transport", "type": "String", "value": "TEMP_URL_SIGNAL"}],
  "outputs": [], "options": {}}]}`

var created = time.Date(2026, 11, 23, 15, 4, 28, 0, time.UTC)

var Expected = softwaredeployments.SoftwareDeployment{
	ID: deploymentID, ConfigID: configID, ServerID: serverID, Action: "CREATE",
	Status: "IN_PROGRESS", StatusReason: "Deploy data available",
	InputValues:  map[string]any{"fernet_keys": map[string]any{"0": "abc", "1": "def"}},
	CreationTime: created,
}

func jsonHandler(t *testing.T, method, reqBody string, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, method)
		th.TestHeader(t, r, "X-Auth-Token", client.TokenID)
		if reqBody != "" {
			th.TestJSONRequest(t, r, reqBody)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func handleStatus(fs th.FakeServer, path string, status int, body string) {
	fs.Mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}
