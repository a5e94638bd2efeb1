package testing

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"
)

const configID = "9df4c3f5-5a2e-4d5b-9a5a-1b2c3d4e5f60"

// CreateRequest is the body Heat 19 was sent in the reference notes.
const CreateRequest = `{"name":"fernet-keys","group":"script","config":"#!/bin/sh\necho hello\n",
 "inputs":[{"name":"fernet_keys","type":"Json"}],"outputs":[{"name":"result"}],"options":{}}`

// ConfigBody is Heat 19's answer to CreateRequest.
const ConfigBody = `{"software_config": {"id": "` + configID + `", "name": "fernet-keys", "group": "script",
  "creation_time": "2026-11-23T15:04:28Z", "config": "#!/bin/sh\necho hello\n",
  "inputs": [{"name": "fernet_keys", "type": "Json"}],
  "outputs": [{"name": "result", "type": "String", "error_output": false}], "options": {}}}`

// ListBody is a one-item list (Heat leaves config text out of lists).
const ListBody = `{"software_configs": [{"id": "` + configID + `", "name": "fernet-keys", "group": "script",
  "creation_time": "2026-11-23T15:04:28"}]}`

var created = time.Date(2026, 11, 23, 15, 4, 28, 0, time.UTC)

// Expected is ConfigBody decoded.
var Expected = softwareconfigs.SoftwareConfig{
	ID: configID, Name: "fernet-keys", Group: "script", Config: "#!/bin/sh\necho hello\n",
	Inputs:       []softwareconfigs.Input{{Name: "fernet_keys", Type: "Json"}},
	Outputs:      []softwareconfigs.Output{{Name: "result", Type: "String"}},
	Options:      map[string]any{},
	CreationTime: created,
}

func handleCreate(t *testing.T, fs th.FakeServer) {
	fs.Mux.HandleFunc("/software_configs", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "POST")
		th.TestHeader(t, r, "X-Auth-Token", client.TokenID)
		th.TestJSONRequest(t, r, CreateRequest)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ConfigBody)
	})
}

func handleGet(t *testing.T, fs th.FakeServer) {
	fs.Mux.HandleFunc("/software_configs/"+configID, func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, ConfigBody)
	})
}

// handleStatus answers every request on path with status and body.
func handleStatus(fs th.FakeServer, path string, status int, body string) {
	fs.Mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}
