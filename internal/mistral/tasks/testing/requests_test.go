package testing

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	fake "github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/mistral/tasks"
)

func TestList(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/executions/e1/tasks", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, "GET")
		th.TestHeader(t, r, "X-Auth-Token", fake.TokenID)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"tasks": [
		  {"id": "t1", "name": "check", "workflow_execution_id": "e1", "state": "SUCCESS", "state_info": null, "created_at": "2026-01-02 03:04:05", "updated_at": null},
		  {"id": "t2", "name": "rotate", "workflow_execution_id": "e1", "state": "ERROR", "state_info": "refused", "created_at": "2026-01-02 03:04:06", "updated_at": "2026-01-02 03:04:07"}]}`)
	})
	pages, err := tasks.List(fake.ServiceClient(fs), "e1").AllPages(context.TODO())
	th.AssertNoErr(t, err)
	got, err := tasks.ExtractTasks(pages)
	th.AssertNoErr(t, err)
	refused, updated := "refused", time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC)
	th.CheckDeepEquals(t, []tasks.Task{
		{ID: "t1", Name: "check", WorkflowExecutionID: "e1", State: "SUCCESS", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{ID: "t2", Name: "rotate", WorkflowExecutionID: "e1", State: "ERROR", StateInfo: &refused, CreatedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), UpdatedAt: &updated},
	}, got)
}
