package mistralapi

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// benchServer is a test server holding n finished executions of a
// three-task workflow, and one of their ids and one task id of it.
func benchServer(b *testing.B, n int) (ts *testServer, exID, taskID string) {
	b.Helper()
	t := b
	ts = newTestServer(b, "")
	const def = "version: '2.0'\nthree:\n  tasks:\n    a:\n      action: std.noop\n      on-success: [b]\n    b:\n      action: std.noop\n      on-success: [c]\n    c:\n      action: std.noop\n"
	if code, body := ts.call(t, "p1", "POST", "/v2/workflows", "text/plain", def); code != 201 {
		b.Fatalf("%d %v", code, body)
	}
	for i := range n {
		code, body := ts.call(t, "p1", "POST", "/v2/executions", "application/json", `{"workflow_name": "three"}`)
		if code != 201 {
			b.Fatalf("%d %v", code, body)
		}
		if i == n/2 {
			exID = body["id"].(string)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; {
		_, body := ts.call(t, "p1", "GET", "/v2/executions?state=RUNNING&limit=1", "", "")
		if len(body["executions"].([]any)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("executions still running after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, body := ts.call(t, "p1", "GET", "/v2/executions/"+exID+"/tasks", "", "")
	taskID = body["tasks"].([]any)[1].(map[string]any)["id"].(string)
	return ts, exID, taskID
}

func benchGet(b *testing.B, ts *testServer, path string) {
	b.Helper()
	req, _ := http.NewRequest("GET", ts.url+path, nil)
	req.Header.Set("X-Auth-Token", "p1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
}

// BenchmarkGetTask is GET /v2/tasks/{id} among 1,000 executions.
func BenchmarkGetTask(b *testing.B) {
	ts, _, task := benchServer(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, ts, "/v2/tasks/"+task)
	}
}

// BenchmarkListTasksOfExecution is GET /v2/tasks?workflow_execution_id=
// (tempest's and OSC's task list of one execution) among 1,000.
func BenchmarkListTasksOfExecution(b *testing.B) {
	ts, ex, _ := benchServer(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, ts, "/v2/tasks?workflow_execution_id="+ex)
	}
}

// BenchmarkListExecutions is GET /v2/executions?limit=1000 of 1,000.
func BenchmarkListExecutions(b *testing.B) {
	ts, _, _ := benchServer(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, ts, "/v2/executions?limit=1000")
	}
}
