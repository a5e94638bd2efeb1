package workflow

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func loadEngine(t *testing.T, src string) (*Engine, *File) {
	t.Helper()
	f, err := Load("test.yaml", []byte(src), testRegistry())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return &Engine{Registry: testRegistry(), File: f, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}, f
}

func TestPauseAndResume(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		paused     map[string]State
		resumed    map[string]State
		wantOutput map[string]any
	}{
		{
			name: "pause command keeps the rest of the clause for resume",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.echo output=1
      publish: {x: <% task().result %>}
      on-success: [pause, b]
    b:
      action: std.noop
      publish: {y: <% $.x + 1 %>}
`,
			paused:     map[string]State{"a": Success},
			resumed:    map[string]State{"a": Success, "b": Success},
			wantOutput: map[string]any{"x": int64(1), "y": int64(2)},
		},
		{
			name: "pause-before holds the task IDLE",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: b
    b:
      action: std.echo output=2
      pause-before: true
      publish: {y: <% task().result %>}
`,
			paused:     map[string]State{"a": Success, "b": Idle},
			resumed:    map[string]State{"a": Success, "b": Success},
			wantOutput: map[string]any{"y": int64(2)},
		},
		{
			name: "a false pause-before expression runs the task",
			src: `version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      pause-before: <% 1 > 2 %>
`,
			resumed:    map[string]State{"a": Success},
			wantOutput: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, f := loadEngine(t, tt.src)
			ex, err := e.Run(context.Background(), f.Workflows[0], nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.paused != nil {
				if ex.State != Paused {
					t.Fatalf("state %s, want PAUSED (%s)", ex.State, ex.StateInfo)
				}
				if got := taskStates(ex); !reflect.DeepEqual(got, tt.paused) {
					t.Fatalf("paused tasks %v, want %v", got, tt.paused)
				}
				if ex, err = e.Resume(context.Background(), ex); err != nil {
					t.Fatal(err)
				}
			}
			if ex.State != Success {
				t.Fatalf("state %s, want SUCCESS (%s)", ex.State, ex.StateInfo)
			}
			if got := taskStates(ex); !reflect.DeepEqual(got, tt.resumed) {
				t.Errorf("tasks %v, want %v", got, tt.resumed)
			}
			if !reflect.DeepEqual(ex.Output, tt.wantOutput) {
				t.Errorf("output %v, want %v", ex.Output, tt.wantOutput)
			}
			if _, err := e.Resume(context.Background(), ex); err == nil {
				t.Error("Resume of a finished execution: no error")
			}
		})
	}
}

func TestFailOnRetries(t *testing.T) {
	// fail-on turns success into ERROR, so retry runs the task again.
	ex := runYAML(t, `version: '2.0'
wf:
  tasks:
    a:
      action: std.echo output=1
      fail-on: true
      retry: {count: 2, delay: 0}
`, nil)
	if ex.State != Failed || ex.Tasks[0].RetryCount != 2 || ex.Tasks[0].StateInfo != "Failed by 'fail-on' policy" {
		t.Fatalf("state %s, retries %d, info %q", ex.State, ex.Tasks[0].RetryCount, ex.Tasks[0].StateInfo)
	}
}

func TestEnvReachesSubWorkflows(t *testing.T) {
	e, f := loadEngine(t, `version: '2.0'
parent:
  output:
    r: <% $.r %>
  tasks:
    call:
      workflow: child
      publish: {r: <% task().result.e %>}
child:
  output:
    e: <% env().k %>
  tasks:
    t:
      action: std.noop
`)
	ex, err := e.StartWith(f.Workflows[0], nil, Params{Env: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	ex = e.Continue(context.Background(), f.Workflows[0], ex)
	if ex.State != Success || ex.Output["r"] != "v" {
		t.Fatalf("state %s, output %v (%s)", ex.State, ex.Output, ex.StateInfo)
	}
}

func TestReverseWorkflowNeedsTarget(t *testing.T) {
	e, f := loadEngine(t, `version: '2.0'
wf:
  type: reverse
  tasks:
    a:
      action: std.noop
`)
	for _, tc := range []struct{ task, want string }{{"", "name the task"}, {"nope", "no such task"}} {
		if _, err := e.StartWith(f.Workflows[0], nil, Params{TaskName: tc.task}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("task %q: error %v, want %q", tc.task, err, tc.want)
		}
	}
}

func TestEffectivePublish(t *testing.T) {
	b := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name             string
		plain            map[string]any
		clause, complete *publishSpec
		want             publishSpec
	}{
		{"plain only", b("x", 1), nil, nil, publishSpec{branch: b("x", 1)}},
		{"publish wins over the clause's branch", b("x", 1), &publishSpec{branch: b("x", 2, "y", 3)}, nil, publishSpec{branch: b("x", 1, "y", 3)}},
		{"on-complete wins over publish", b("x", 1), nil, &publishSpec{branch: b("x", 4)}, publishSpec{branch: b("x", 4)}},
		{"a clause with only global drops publish (Mistral's merge_dicts(None, ...))", b("x", 1), &publishSpec{global: b("g", 1)}, nil, publishSpec{global: b("g", 1)}},
		{"on-complete global is lost beside publish", b("x", 1), nil, &publishSpec{global: b("g", 1)}, publishSpec{branch: b("x", 1)}},
		{"on-complete alone", nil, nil, &publishSpec{global: b("g", 1)}, publishSpec{global: b("g", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := effectivePublish(tt.plain, tt.clause, tt.complete); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSleepSeconds is SleepAction's int(seconds) (0 when int() refuses or
// the number is negative), as Python computes it.
func TestSleepSeconds(t *testing.T) {
	for _, c := range []struct {
		v       any
		given   bool
		want    int64
		wantErr bool
	}{
		{nil, false, 1, false},
		{int64(3), true, 3, false},
		{int64(-2), true, 0, false},
		{2.9, true, 2, false},
		{-0.5, true, 0, false},
		{true, true, 1, false},
		{"2", true, 2, false},
		{" 7 ", true, 7, false},
		{"1_0", true, 10, false},
		{"1__0", true, 0, false},
		{"_1", true, 0, false},
		{"1_", true, 0, false},
		{"1.5", true, 0, false},
		{"a", true, 0, false},
		{"-3", true, 0, false},
		{nil, true, 0, true},
		{[]any{1}, true, 0, true},
	} {
		got, err := sleepSeconds(c.v, c.given)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("sleepSeconds(%#v, %v) = %d, %v; want %d (error %v)", c.v, c.given, got, err, c.want, c.wantErr)
		}
	}
}

// TestPySort holds pySort to CPython's list.sort with Mistral's
// _compare_task_commands (not a total order): testdata/
// pysort_commands.json was written by CPython 3.11 (Debian's
// /usr/bin/python3) over random command lists, joins marked waiting.
func TestPySort(t *testing.T) {
	raw, err := os.ReadFile("testdata/pysort_commands.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		In   [][2]any `json:"in"`
		Want []string `json:"want"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	type cmd struct {
		name    string
		waiting bool
	}
	less := func(a, b cmd) bool {
		if !a.waiting {
			return true
		}
		if !b.waiting {
			return false
		}
		return a.name < b.name
	}
	for _, c := range cases {
		cmds := make([]cmd, len(c.In))
		for i, p := range c.In {
			cmds[i] = cmd{p[0].(string), p[1].(bool)}
		}
		pySort(cmds, less)
		got := make([]string, len(cmds))
		for i, x := range cmds {
			got[i] = x.name
		}
		if strings.Join(got, " ") != strings.Join(c.Want, " ") {
			t.Errorf("%v: got %v, CPython %v", c.In, got, c.Want)
		}
	}
}
