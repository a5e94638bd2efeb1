package workflow

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow/expr"
)

// testRegistry is the standard actions plus test.flaky, which fails until
// its third call, and test.secret, whose output is Secret.
func testRegistry() *MapRegistry {
	reg := StdRegistry()
	var calls atomic.Int64
	reg.Add(FuncAction{ActionName: "test.flaky", Fn: func(context.Context, map[string]any) (any, error) {
		if n := calls.Add(1); n < 3 {
			return nil, errors.New("flaky: not yet")
		}
		return "ok", nil
	}})
	reg.Add(FuncAction{ActionName: "test.secret", IsSecret: true, Fn: func(context.Context, map[string]any) (any, error) {
		return map[string]any{"key": "s3cr3t-key-material"}, nil
	}})
	return reg
}

func runYAML(t *testing.T, src string, input map[string]any) *Execution {
	t.Helper()
	f, err := Load("test.yaml", []byte(src), testRegistry())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	e := &Engine{Registry: testRegistry(), File: f, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	ex, err := e.Run(context.Background(), f.Workflows[0], input)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return ex
}

func taskStates(ex *Execution) map[string]State {
	m := map[string]State{}
	for _, te := range ex.Tasks {
		m[te.Name] = te.State
	}
	return m
}

func taskOrder(ex *Execution) []string {
	var out []string
	for _, te := range ex.Tasks {
		out = append(out, te.Name)
	}
	return out
}

func TestEngine(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		input     map[string]any
		state     State
		order     []string // nil: not checked (parallel branches)
		tasks     map[string]State
		output    string // JSON, "" not checked
		published map[string]string
	}{
		{
			name: "chain with publish and output",
			src: `version: '2.0'
wf:
  input: [a, b: 2]
  output: {sum: <% $.s %>, names: <% $.names %>}
  tasks:
    add:
      action: std.echo output=<% $.a + $.b %>
      publish: {s: <% task().result %>}
      on-success: [names]
    names:
      action: std.echo
      input: {output: [x, y]}
      publish: {names: <% task().result.select($.toUpper()) %>}
`,
			input: map[string]any{"a": int64(1)},
			state: Success, order: []string{"add", "names"},
			tasks:  map[string]State{"add": Success, "names": Success},
			output: `{"names":["X","Y"],"sum":3}`,
		},
		{
			name: "on-error handles the error",
			src: `version: '2.0'
wf:
  output: {handled: <% $.h %>}
  tasks:
    bad:
      action: std.fail
      publish-on-error: {err: <% task().state %>}
      on-error: [recover]
      on-success: [never]
    recover:
      action: std.echo output="yes"
      publish: {h: <% $.err + '-' + task().result %>}
    never:
      action: std.noop
`,
			state: Success, order: []string{"bad", "recover"},
			tasks:  map[string]State{"bad": Failed, "recover": Success},
			output: `{"handled":"ERROR-yes"}`,
		},
		{
			name: "unhandled error fails the workflow, on-complete still runs",
			src: `version: '2.0'
wf:
  tasks:
    bad:
      action: std.fail error_data="boom"
      on-complete: [after]
    after:
      action: std.noop
`,
			state: Failed, order: []string{"bad", "after"},
			tasks: map[string]State{"bad": Failed, "after": Success},
		},
		{
			name: "conditions pick the branch",
			src: `version: '2.0'
wf:
  input: [n]
  output: {branch: <% $.b %>}
  tasks:
    check:
      action: std.noop
      on-success:
        - big: <% $.n > 10 %>
        - small: <% $.n <= 10 %>
    big:
      action: std.echo output="big"
      publish: {b: <% task().result %>}
    small:
      action: std.echo output="small"
      publish: {b: <% task().result %>}
`,
			input: map[string]any{"n": int64(3)},
			state: Success, order: []string{"check", "small"}, output: `{"branch":"small"}`,
		},
		{
			name: "join all waits for both branches and merges their contexts",
			src: `version: '2.0'
wf:
  output: {l: <% $.left %>, r: <% $.right %>}
  tasks:
    start:
      action: std.noop
      on-success: [left, right]
    left:
      action: std.echo output="L"
      publish: {left: <% task().result %>}
      on-success: [join_task]
    right:
      action: std.echo output="R"
      publish: {right: <% task().result %>}
      on-success: [join_task]
    join_task:
      join: all
      action: std.noop
`,
			state: Success, tasks: map[string]State{"start": Success, "left": Success, "right": Success, "join_task": Success},
			output: `{"l":"L","r":"R"}`,
		},
		{
			name: "join 1 starts once",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: [j]
    b:
      action: std.noop
      on-success: [j]
    j:
      join: 1
      action: std.noop
`,
			state: Success, tasks: map[string]State{"a": Success, "b": Success, "j": Success},
		},
		{
			name: "join all never satisfied fails",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.fail
      on-error: [other]
      on-success: [j]
    b:
      action: std.noop
      on-success: [j]
    other:
      action: std.noop
    j:
      join: all
      action: std.noop
`,
			state: Failed, tasks: map[string]State{"a": Failed, "b": Success, "other": Success, "j": Failed},
		},
		{
			name: "fail engine command",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success:
        - fail: <% true %>
        - b
    b:
      action: std.noop
`,
			state: Failed, order: []string{"a"},
		},
		{
			name: "succeed engine command after an error",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.fail
      on-error: [succeed]
`,
			state: Success, tasks: map[string]State{"a": Failed},
		},
		{
			name: "with-items over two lists with concurrency",
			src: `version: '2.0'
wf:
  input: [names, ips]
  output: {pairs: <% $.pairs %>}
  tasks:
    each:
      with-items: [n in <% $.names %>, ip in <% $.ips %>]
      concurrency: 2
      action: std.echo output=<% $.n + '=' + $.ip %>
      publish: {pairs: <% task().result %>}
`,
			input: map[string]any{"names": []any{"a", "b", "c"}, "ips": []any{"1", "2", "3"}},
			state: Success, output: `{"pairs":["a=1","b=2","c=3"]}`,
		},
		{
			name: "with-items literal list",
			src: `version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    each:
      with-items: x in [1, 2, 3]
      action: std.echo output=<% $.x * 10 %>
      publish: {r: <% task().result.sum() %>}
`,
			state: Success, output: `{"r":60}`,
		},
		{
			name: "retry until success",
			src: `version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    flaky:
      action: test.flaky
      retry: {count: 5, delay: 1}
      publish: {r: <% task().result %>}
`,
			state: Success, output: `{"r":"ok"}`,
		},
		{
			name: "retry break-on stops at once",
			src: `version: '2.0'
wf:
  tasks:
    flaky:
      action: test.flaky
      retry: {count: 5, delay: 1, break-on: <% true %>}
`,
			state: Failed, tasks: map[string]State{"flaky": Failed},
		},
		{
			name: "retry exhausted",
			src: `version: '2.0'
wf:
  tasks:
    flaky:
      action: test.flaky
      retry: {count: 1, delay: 0}
`,
			state: Failed, tasks: map[string]State{"flaky": Failed},
		},
		{
			name: "sub-workflow output is the task result",
			src: `version: '2.0'
main:
  output: {got: <% $.got %>}
  tasks:
    call:
      workflow: child
      input: {x: 20}
      publish: {got: <% task().result.doubled %>}
child:
  input: [x]
  output: {doubled: <% $.x * 2 %>}
  tasks:
    t:
      action: std.noop
`,
			state: Success, output: `{"got":40}`,
		},
		{
			name: "keep-result false drops the stored result",
			src: `version: '2.0'
wf:
  output: {p: <% $.p %>}
  tasks:
    a:
      action: std.echo output="big"
      keep-result: false
      publish: {p: <% task().result %>}
`,
			state: Success, output: `{"p":"big"}`,
		},
		{
			name: "timeout",
			src: `version: '2.0'
wf:
  tasks:
    slow:
      action: std.sleep seconds=5
      timeout: 1
      on-error: [after]
    after:
      action: std.noop
`,
			state: Success, tasks: map[string]State{"slow": Failed, "after": Success},
		},
		{
			name: "noop command and task-defaults",
			src: `version: '2.0'
wf:
  task-defaults:
    on-error: [handler]
  tasks:
    a:
      action: std.fail
    handler:
      action: std.noop
      on-success: [noop]
`,
			state: Success, tasks: map[string]State{"a": Failed, "handler": Success},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "timeout" {
				// needs a real clock
				f, err := Load("test.yaml", []byte(c.src), testRegistry())
				if err != nil {
					t.Fatal(err)
				}
				e := &Engine{Registry: testRegistry(), File: f}
				ex, err := e.Run(context.Background(), f.Workflows[0], nil)
				if err != nil || ex.State != c.state || !reflect.DeepEqual(taskStates(ex), c.tasks) {
					t.Fatalf("%v %s %v %s", err, ex.State, taskStates(ex), ex.StateInfo)
				}
				return
			}
			ex := runYAML(t, c.src, c.input)
			if ex.State != c.state {
				t.Fatalf("state %s, want %s (%s)", ex.State, c.state, ex.StateInfo)
			}
			if c.order != nil && !reflect.DeepEqual(taskOrder(ex), c.order) {
				t.Errorf("order %v, want %v", taskOrder(ex), c.order)
			}
			if c.tasks != nil && !reflect.DeepEqual(taskStates(ex), c.tasks) {
				t.Errorf("tasks %v, want %v", taskStates(ex), c.tasks)
			}
			if c.output != "" {
				want, err := expr.UnmarshalJSON([]byte(c.output))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(any(ex.Output), want) {
					got, _ := expr.MarshalJSON(ex.Output, "")
					t.Errorf("output %s, want %s", got, c.output)
				}
			}
		})
	}
}

func TestEngineInput(t *testing.T) {
	f, err := Load("t.yaml", []byte("version: '2.0'\nwf:\n  input: [a, b: <% $.a + 1 %>]\n  output: {b: <% $.b %>}\n  tasks:\n    t: {action: std.noop}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Registry: StdRegistry(), File: f}
	if _, err := e.Run(context.Background(), f.Workflows[0], map[string]any{"zz": 1}); err == nil || !strings.Contains(err.Error(), "missing a; unexpected zz") {
		t.Fatalf("got %v", err)
	}
	// Defaults are not evaluated, as in Mistral.
	ex, err := e.Run(context.Background(), f.Workflows[0], map[string]any{"a": 1})
	if err != nil || ex.Output["b"] != "<% $.a + 1 %>" {
		t.Fatalf("%v %v", err, ex.Output)
	}
}

func TestEngineCancel(t *testing.T) {
	f, err := Load("t.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    t: {action: std.sleep seconds=30}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{Registry: StdRegistry(), File: f}
	time.AfterFunc(50*time.Millisecond, cancel)
	ex, err := e.Run(ctx, f.Workflows[0], nil)
	if err != nil || ex.State != Cancelled || ex.Tasks[0].State != Cancelled {
		t.Fatalf("%v %s %v", err, ex.State, taskStates(ex))
	}
}

func TestSecretRedaction(t *testing.T) {
	ex := runYAML(t, `version: '2.0'
wf:
  output: {k: <% $.k %>, note: <% 'key is ' + $.k %>}
  tasks:
    s:
      action: test.secret
      publish: {k: <% task().result.key %>}
`, nil)
	if ex.Output["k"] != "s3cr3t-key-material" {
		t.Fatalf("in memory the value is kept: %v", ex.Output)
	}
	red := ex.Redacted()
	got, _ := expr.MarshalJSON(red, "")
	if strings.Contains(string(got), "s3cr3t") {
		t.Fatalf("secret leaked: %s", got)
	}
	if red.Tasks[0].Result != Redacted || red.Output["note"] != "key is "+Redacted {
		t.Fatalf("%v %v", red.Tasks[0].Result, red.Output)
	}
}

// TestWithItemsConcurrency runs many items at a bounded concurrency under
// -race, and checks the bound holds and results keep their order.
func TestWithItemsConcurrency(t *testing.T) {
	var cur, peak atomic.Int64
	reg := StdRegistry()
	reg.Add(FuncAction{ActionName: "test.count", Fn: func(ctx context.Context, in map[string]any) (any, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		cur.Add(-1)
		return in["i"], nil
	}})
	src := `version: '2.0'
wf:
  input: [items]
  output: {r: <% $.r %>}
  tasks:
    each:
      with-items: i in <% $.items %>
      concurrency: 7
      action: test.count i=<% $.i %>
      publish: {r: <% task().result %>}
`
	f, err := Load("t.yaml", []byte(src), reg)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 300)
	for i := range items {
		items[i] = int64(i)
	}
	e := &Engine{Registry: reg, File: f}
	ex, err := e.Run(context.Background(), f.Workflows[0], map[string]any{"items": items})
	if err != nil || ex.State != Success {
		t.Fatalf("%v %s", err, ex.StateInfo)
	}
	if !reflect.DeepEqual(ex.Output["r"], items) {
		t.Fatalf("results out of order")
	}
	if peak.Load() > 7 || peak.Load() < 2 {
		t.Fatalf("peak concurrency %d, want 2..7", peak.Load())
	}
}

func TestOnTaskProgress(t *testing.T) {
	f, _ := Load("t.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    a: {action: std.noop, on-success: b}\n    b: {action: std.noop}\n"), nil)
	var seen []string
	e := &Engine{Registry: StdRegistry(), File: f, OnTask: func(_ *Execution, te *TaskExecution) { seen = append(seen, te.Name+":"+string(te.State)) }}
	if _, err := e.Run(context.Background(), f.Workflows[0], nil); err != nil {
		t.Fatal(err)
	}
	sort.Strings(seen)
	if strings.Join(seen, " ") != "a:RUNNING a:SUCCESS b:RUNNING b:SUCCESS" {
		t.Fatalf("%v", seen)
	}
}

// TestPolicies checks wait-before, wait-after, retry delays and
// continue-on through the engine's Sleep hook, and the published values
// of each task.
func TestPolicies(t *testing.T) {
	src := `version: '2.0'
wf:
  input: [wait: 3]
  tasks:
    waits:
      action: std.echo output="w"
      wait-before: <% $.wait %>
      wait-after: 2
      publish: {w: <% task().result %>}
      on-success: [again]
    again:
      action: std.echo output=<% 1 %>
      retry:
        count: 2
        delay: 5
        continue-on: <% task().result = 1 %>
      publish: {n: <% task().result %>, retries: <% 'counted' %>}
`
	f, err := Load("t.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	e := &Engine{Registry: StdRegistry(), File: f, Sleep: func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d) // tasks run one after the other here
		return ctx.Err()
	}}
	ex, err := e.Run(context.Background(), f.Workflows[0], nil)
	if err != nil || ex.State != Success {
		t.Fatalf("%v %s", err, ex.StateInfo)
	}
	want := []time.Duration{3 * time.Second, 2 * time.Second, 5 * time.Second, 5 * time.Second}
	if !reflect.DeepEqual(slept, want) {
		t.Fatalf("slept %v, want %v (wait-before 3, wait-after 2, two retries of 5 under continue-on)", slept, want)
	}
	pub := map[string]map[string]any{}
	for _, te := range ex.Tasks {
		pub[te.Name] = te.Published
	}
	if !reflect.DeepEqual(pub, map[string]map[string]any{"waits": {"w": "w"}, "again": {"n": int64(1), "retries": "counted"}}) {
		t.Fatalf("published %v", pub)
	}
	if ex.Tasks[1].RetryCount != 2 {
		t.Fatalf("retry count %d, want 2", ex.Tasks[1].RetryCount)
	}
}

// TestTaskErrorNamesTaskAndCause checks that a failed workflow's
// state_info names the task and the action's error.
func TestTaskErrorNamesTaskAndCause(t *testing.T) {
	ex := runYAML(t, "version: '2.0'\nwf:\n  tasks:\n    explode:\n      action: std.fail error_data=\"disk full\"\n", nil)
	if ex.State != Failed || !strings.Contains(ex.StateInfo, "explode") || !strings.Contains(ex.StateInfo, "disk full") {
		t.Fatalf("%s: %q", ex.State, ex.StateInfo)
	}
	if ex.Output["result"] != ex.StateInfo {
		t.Fatalf("output %v", ex.Output)
	}
}

func TestWorkbookAdhocAction(t *testing.T) {
	src := `version: '2.0'
name: wb
actions:
  shout:
    base: std.echo
    base-input:
      output: <% $.text %>
    input: [text]
    output: <% $.toUpper() %>
workflows:
  main:
    output: {r: <% $.r %>}
    tasks:
      call:
        workflow: wb.helper
        publish: {r: <% task().result.s %>}
  helper:
    output: {s: <% $.s %>}
    tasks:
      s:
        action: shout text="hi"
        publish: {s: <% task().result %>}
`
	f, err := Load("wb.yaml", []byte(src), StdRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if f.Workbook != "wb" || f.Workflow("wb.main") == nil || f.Workflow("helper") == nil {
		t.Fatalf("%+v", f)
	}
	e := &Engine{Registry: StdRegistry(), File: f}
	ex, err := e.Run(context.Background(), f.Workflow("wb.main"), nil)
	if err != nil || ex.State != Success || ex.Output["r"] != "HI" {
		t.Fatalf("%v %s %v", err, ex.StateInfo, ex.Output)
	}
	// The ad-hoc action's declared input is its schema.
	bad := strings.Replace(src, `shout text="hi"`, `shout txt="hi"`, 1)
	if _, err := Load("wb.yaml", []byte(bad), StdRegistry()); err == nil || !strings.Contains(err.Error(), "input rejected by action shout") {
		t.Fatalf("got %v", err)
	}
}

// TestFailStopsRunningTasks: once fail ends the workflow, a task still
// running on another branch is cancelled instead of waited for.
// TestFailLetsRunningTasksFinish: after fail, Mistral starts nothing new
// but the tasks that run finish and keep their states (slow ends SUCCESS
// in a failed workflow, its on-success never runs); a task waiting for an
// asynchronous action is cancelled, as nothing could continue it.
func TestFailLetsRunningTasksFinish(t *testing.T) {
	f, err := Load("t.yaml", []byte(`version: '2.0'
wf:
  tasks:
    slow:
      action: std.sleep seconds=1
      on-success: [after]
    waits:
      action: std.async_noop
    quick:
      action: std.noop
      on-success: [fail]
    after:
      action: std.noop
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Registry: StdRegistry(), File: f, Control: &Controller{}}
	ex, err := e.Run(context.Background(), f.Workflows[0], nil)
	if err != nil || ex.State != Failed {
		t.Fatalf("%v %s", err, ex.State)
	}
	st := taskStates(ex)
	if st["slow"] != Success || st["quick"] != Success || st["waits"] != Cancelled {
		t.Fatalf("%v", st)
	}
	if _, ran := st["after"]; ran {
		t.Fatalf("a task started after fail: %v", st)
	}
}
