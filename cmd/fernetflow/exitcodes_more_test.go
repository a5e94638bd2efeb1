package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fernetflow/fernetflow/internal/node"
	"github.com/fernetflow/fernetflow/workflow"
	"github.com/fernetflow/fernetflow/workflow/store"
)

// enrolledNode makes a node's identity in dir and returns its recipient.
func (e *exitEnv) enrolledNode(dir string) string {
	e.t.Helper()
	out, errs, code := runCLI(e.t, "", "node", "enroll", "--state-dir", dir, "--server-id", "srv-9", "-f", "json")
	var v struct{ Recipient string }
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		e.t.Fatalf("node enroll: %d %s", code, errs)
	}
	return v.Recipient
}

// sealed seals the env's repository to a new node in nodeDir and returns
// the envelope's path.
func (e *exitEnv) sealed(nodeDir string) string {
	e.t.Helper()
	r := e.enrolledNode(nodeDir)
	out, errs, code := runCLI(e.t, "", "envelope", "seal", "--key-repository", e.repo, "--recipient", r, "--server-id", "srv-9", "--signer-dir", e.state, "--generation", "1")
	if code != 0 {
		e.t.Fatalf("envelope seal: %s", errs)
	}
	path := filepath.Join(filepath.Dir(e.repo), "envelope.age")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// install is node install of the env's envelope on a new node.
func (e *exitEnv) install(extra ...string) []string {
	n := filepath.Join(filepath.Dir(e.repo), "node9")
	env := e.sealed(filepath.Join(n, "state"))
	return append([]string{"node", "install", "--envelope", env, "--state-dir", filepath.Join(n, "state"),
		"--key-repository", filepath.Join(n, "fernet-keys"), "--signer-public-key", filepath.Join(e.state, "signer.pub"), "--server-id", "srv-9"}, extra...)
}

// noCloud leaves no clouds.yaml and no OS_* variables for the row.
func (e *exitEnv) noCloud() func() {
	e.t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(e.emptyDir, "clouds.yaml"))
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") && k != "OS_CLIENT_CONFIG_FILE" {
			e.t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return func() {}
}

// serveExecution runs, in the test, an execution waiting on an async
// action, recorded in e.state and served control requests as serve
// would; paused first when paused is true. It sets e.controlled.
func (e *exitEnv) serveExecution(paused bool) func() {
	e.t.Helper()
	store.ControlInterval = 10 * time.Millisecond
	st, err := store.Open(filepath.Join(e.state, store.FileName))
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := workflow.Load("wf.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.async_noop\n"), workflow.StdRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	eng := &workflow.Engine{Registry: workflow.StdRegistry(), File: f, Recorder: st, Control: &workflow.Controller{}}
	ex, err := eng.Start(f.Workflows[0], nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go st.ServeControl(ctx, eng.Control, nil)
	done := make(chan struct{})
	go func() { defer close(done); eng.Continue(ctx, f.Workflows[0], ex) }()
	for len(eng.Control.PendingActions(ex.ID)) == 0 {
		time.Sleep(time.Millisecond)
	}
	if paused {
		if err := eng.Control.Pause(ex.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	e.controlled = ex.ID
	return func() {
		cancel()
		<-done
		store.ControlInterval = 500 * time.Millisecond
	}
}

// firstExecution is the id of the env's first recorded execution.
func (e *exitEnv) firstExecution() string {
	e.t.Helper()
	out, errs, code := runCLI(e.t, "", "execution", "list", "--state-dir", e.state, "-f", "json")
	var l []struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l) == 0 {
		e.t.Fatalf("execution list: %d %s %s", code, out, errs)
	}
	return l[0].ID
}

const (
	readsOnly = "reads only"
	noLock    = "takes no lock"
)

// moreExitRows are TestExitCodes' rows for the commands beyond the key,
// fleet and signer ones.
func moreExitRows() []exitRow {
	def := filepath.Join("..", "..", "workflow", "definitions", "check_fernet_keys.yaml")
	hello := func(e *exitEnv, body string) string {
		path := filepath.Join(filepath.Dir(e.repo), "hello.yaml")
		src := "version: '2.0'\nhello:\n  tasks:\n    t:\n      " + body + "\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			e.t.Fatal(err)
		}
		return path
	}
	rows := []exitRow{
		{cmd: "keys max-active", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"keys", "max-active", "--token-expiration", "1h", "--allow-expired-window", "48h", "--rotation-interval", "24h"}
		}},
		{cmd: "keys max-active", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "max-active", "--token-expiration", "soon"}
		}},
		{cmd: "keys max-active", class: clsRefused, na: "computes only"},
		{cmd: "keys max-active", class: clsBusy, na: "computes only"},
		{cmd: "keys max-active", class: clsFailure, na: "computes only: a bad input is wrong usage"},

		{cmd: "keys token issue", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"keys", "token", "issue", "--key-repository", e.repo}
		}},
		{cmd: "keys token issue", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"keys", "token", "issue", "--key-repository", e.repo, "extra"}
		}},
		{cmd: "keys token issue", class: clsRefused, na: readsOnly},
		{cmd: "keys token issue", class: clsBusy, na: "reads without the lock"},
		{cmd: "keys token issue", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"keys", "token", "issue", "--key-repository", e.emptyDir}
		}},

		{cmd: "action list", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"action", "list"} }},
		{cmd: "action list", class: clsUsage, args: func(e *exitEnv) []string { return []string{"action", "list", "extra"} }},
		{cmd: "action list", class: clsRefused, na: readsOnly},
		{cmd: "action list", class: clsBusy, na: readsOnly},
		{cmd: "action list", class: clsFailure, na: "lists the built-in catalog: nothing to fail"},
		{cmd: "action show", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"action", "show", "keys.rotate"} }},
		{cmd: "action show", class: clsUsage, args: func(e *exitEnv) []string { return []string{"action", "show"} }},
		{cmd: "action show", class: clsRefused, na: readsOnly},
		{cmd: "action show", class: clsBusy, na: readsOnly},
		{cmd: "action show", class: clsFailure, na: "shows the built-in catalog: an unknown name is a wrong argument (the next row)"},
		{cmd: "action show (unknown name)", class: clsUsage, args: func(e *exitEnv) []string { return []string{"action", "show", "no.such"} }},

		{cmd: "workflow run", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"workflow", "run", hello(e, "action: std.noop"), "--no-store"}
		}},
		{cmd: "workflow run", class: clsUsage, args: func(e *exitEnv) []string { return []string{"workflow", "run"} }},
		{cmd: "workflow run", class: clsRefused, na: "runs a user's workflow: the workflow decides, and its failure is a failure"},
		{cmd: "workflow run", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"workflow", "run", hello(e, "action: std.noop"), "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "workflow run", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"workflow", "run", hello(e, "action: std.fail"), "--no-store"}
		}},
		{cmd: "workflow eval", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"workflow", "eval", "1 + 2"} }},
		{cmd: "workflow eval", class: clsUsage, args: func(e *exitEnv) []string { return []string{"workflow", "eval"} }},
		{cmd: "workflow eval", class: clsRefused, na: "evaluates only"},
		{cmd: "workflow eval", class: clsBusy, na: "evaluates only"},
		{cmd: "workflow eval", class: clsFailure, args: func(e *exitEnv) []string { return []string{"workflow", "eval", "1 / 0"} }},

		{cmd: "execution show", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"execution", "show", e.firstExecution(), "--state-dir", e.state}
		}},
		{cmd: "execution show", class: clsUsage, args: func(e *exitEnv) []string { return []string{"execution", "show", "--state-dir", e.state} }},
		{cmd: "execution show", class: clsRefused, na: readsOnly},
		{cmd: "execution show", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"execution", "show", "x", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "execution show", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"execution", "show", "no-such-id", "--state-dir", e.state}
		}},
		{cmd: "execution delete", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"execution", "delete", e.firstExecution(), "--state-dir", e.state}
		}},
		{cmd: "execution delete", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"execution", "delete", "--state-dir", e.state}
		}},
		{cmd: "execution delete", class: clsRefused, na: "deletes only finished executions, which is not a refusal as unsafe: a running one is a failure that names it"},
		{cmd: "execution delete", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"execution", "delete", "x", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "execution delete", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"execution", "delete", "no-such-id", "--state-dir", e.state}
		}},

		{cmd: "execution pause", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"execution", "pause", e.controlled, "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.serveExecution(false) }},
		{cmd: "execution pause", class: clsUsage, args: func(e *exitEnv) []string { return []string{"execution", "pause", "--state-dir", e.state} }},
		{cmd: "execution pause", class: clsRefused, na: "changes only what the process running the execution would accept from Mistral's API: nothing unsafe to refuse"},
		{cmd: "execution pause", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"execution", "pause", "x", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "execution pause", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"execution", "pause", e.firstExecution(), "--state-dir", e.state}
		}},
		{cmd: "execution cancel", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"execution", "cancel", e.controlled, "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.serveExecution(false) }},
		{cmd: "execution cancel", class: clsUsage, args: func(e *exitEnv) []string { return []string{"execution", "cancel", "--state-dir", e.state} }},
		{cmd: "execution cancel", class: clsRefused, na: "changes only what the process running the execution would accept from Mistral's API: nothing unsafe to refuse"},
		{cmd: "execution cancel", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"execution", "cancel", "x", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "execution cancel", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"execution", "cancel", e.firstExecution(), "--state-dir", e.state}
		}},
		{cmd: "execution resume", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"execution", "resume", e.controlled, "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.serveExecution(true) }},
		{cmd: "execution resume", class: clsUsage, args: func(e *exitEnv) []string { return []string{"execution", "resume", "--state-dir", e.state} }},
		{cmd: "execution resume", class: clsRefused, na: "changes only what the process running the execution would accept from Mistral's API: nothing unsafe to refuse"},
		{cmd: "execution resume", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"execution", "resume", "x", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "execution resume", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"execution", "resume", e.firstExecution(), "--state-dir", e.state}
		}},

		{cmd: "cron-trigger create", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "create", "nightly", def, "--pattern", "0 3 * * *", "--state-dir", e.state}
		}},
		{cmd: "cron-trigger create", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "create", "nightly", def, "--pattern", "every night", "--state-dir", e.state}
		}},
		{cmd: "cron-trigger create", class: clsRefused, na: "stores a schedule: nothing unsafe to refuse"},
		{cmd: "cron-trigger create", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "create", "nightly", def, "--pattern", "0 3 * * *", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "cron-trigger create", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "create", "nightly", def, "--pattern", "0 3 * * *", "--state-dir", e.file}
		}},
		{cmd: "cron-trigger list", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"cron-trigger", "list", "--state-dir", e.state} }},
		{cmd: "cron-trigger list", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "list", "--state-dir", e.state, "extra"}
		}},
		{cmd: "cron-trigger list", class: clsRefused, na: readsOnly},
		{cmd: "cron-trigger list", class: clsBusy, args: func(e *exitEnv) []string { return []string{"cron-trigger", "list", "--state-dir", e.state} },
			setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "cron-trigger list", class: clsFailure, args: func(e *exitEnv) []string { return []string{"cron-trigger", "list", "--state-dir", e.file} }},
		{cmd: "cron-trigger show", class: clsSuccess, args: func(e *exitEnv) []string {
			runCLI(e.t, "", "cron-trigger", "create", "nightly", def, "--pattern", "0 3 * * *", "--state-dir", e.state)
			return []string{"cron-trigger", "show", "nightly", "--state-dir", e.state}
		}},
		{cmd: "cron-trigger show", class: clsUsage, args: func(e *exitEnv) []string { return []string{"cron-trigger", "show", "--state-dir", e.state} }},
		{cmd: "cron-trigger show", class: clsRefused, na: readsOnly},
		{cmd: "cron-trigger show", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "show", "nightly", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "cron-trigger show", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "show", "no-such-trigger", "--state-dir", e.state}
		}},
		{cmd: "cron-trigger delete", class: clsSuccess, args: func(e *exitEnv) []string {
			runCLI(e.t, "", "cron-trigger", "create", "nightly", def, "--pattern", "0 3 * * *", "--state-dir", e.state)
			return []string{"cron-trigger", "delete", "nightly", "--state-dir", e.state}
		}},
		{cmd: "cron-trigger delete", class: clsUsage, args: func(e *exitEnv) []string { return []string{"cron-trigger", "delete", "--state-dir", e.state} }},
		{cmd: "cron-trigger delete", class: clsRefused, na: "deleting a schedule is never unsafe"},
		{cmd: "cron-trigger delete", class: clsBusy, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "delete", "nightly", "--state-dir", e.state}
		}, setup: func(e *exitEnv) func() { return e.hold(filepath.Join(e.state, "executions.db")) }},
		{cmd: "cron-trigger delete", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"cron-trigger", "delete", "no-such-trigger", "--state-dir", e.state}
		}},

		{cmd: "envelope seal", class: clsSuccess, args: func(e *exitEnv) []string {
			r := e.enrolledNode(filepath.Join(e.emptyDir, "n"))
			return []string{"envelope", "seal", "--key-repository", e.repo, "--recipient", r, "--server-id", "srv-9", "--signer-dir", e.state, "--generation", "1"}
		}},
		{cmd: "envelope seal", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"envelope", "seal", "--key-repository", e.repo, "--server-id", "srv-9"}
		}},
		{cmd: "envelope seal", class: clsRefused, na: "seals what the repository holds; a node's install refuses what it must"},
		{cmd: "envelope seal", class: clsBusy, na: "reads the repository without the lock"},
		{cmd: "envelope seal", class: clsFailure, args: func(e *exitEnv) []string {
			r := e.enrolledNode(filepath.Join(e.emptyDir, "n"))
			return []string{"envelope", "seal", "--key-repository", e.emptyDir, "--recipient", r, "--server-id", "srv-9", "--signer-dir", e.state, "--generation", "1"}
		}},
		{cmd: "envelope inspect", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"envelope", "inspect", "--envelope", e.sealed(filepath.Join(e.emptyDir, "n"))}
		}},
		{cmd: "envelope inspect", class: clsUsage, args: func(e *exitEnv) []string { return []string{"envelope", "inspect", "extra"} }},
		{cmd: "envelope inspect", class: clsRefused, na: readsOnly},
		{cmd: "envelope inspect", class: clsBusy, na: readsOnly},
		{cmd: "envelope inspect", class: clsFailure, args: func(e *exitEnv) []string { return []string{"envelope", "inspect", "--envelope", e.file} }},
		{cmd: "envelope open", class: clsSuccess, args: func(e *exitEnv) []string {
			n := filepath.Join(e.emptyDir, "n")
			return []string{"envelope", "open", "--envelope", e.sealed(n), "--state-dir", n, "--server-id", "srv-9", "--signer-public-key", filepath.Join(e.state, "signer.pub")}
		}},
		{cmd: "envelope open", class: clsUsage, args: func(e *exitEnv) []string { return []string{"envelope", "open", "extra"} }},
		{cmd: "envelope open", class: clsRefused, na: "opens only; installing is node install's"},
		{cmd: "envelope open", class: clsBusy, na: readsOnly},
		{cmd: "envelope open", class: clsFailure, args: func(e *exitEnv) []string {
			n := filepath.Join(e.emptyDir, "n")
			// Another node's identity cannot open it.
			env := e.sealed(n)
			other := filepath.Join(e.emptyDir, "other")
			e.enrolledNode(other)
			return []string{"envelope", "open", "--envelope", env, "--state-dir", other, "--server-id", "srv-9", "--signer-public-key", filepath.Join(e.state, "signer.pub")}
		}},

		{cmd: "node install", class: clsSuccess, args: func(e *exitEnv) []string { return e.install() }},
		{cmd: "node install", class: clsUsage, args: func(e *exitEnv) []string { return e.install("extra") }},
		{cmd: "node install", class: clsRefused, na: "a refused envelope (a rollback, another node's) exits 1, as node_test asserts: the node's agent, not the operator, reads its code"},
		{cmd: "node install", class: clsBusy, args: func(e *exitEnv) []string { return e.install("--timeout", "200ms") }, setup: func(e *exitEnv) func() {
			st := filepath.Join(filepath.Dir(e.repo), "node9", "state")
			if err := os.MkdirAll(st, 0o700); err != nil {
				e.t.Fatal(err)
			}
			return e.hold(filepath.Join(st, node.LockFile))
		}},
		{cmd: "node install", class: clsFailure, args: func(e *exitEnv) []string {
			args := e.install()
			for i, a := range args {
				if a == "--server-id" {
					args[i+1] = "srv-other" // sealed to srv-9
				}
			}
			return args
		}},
		{cmd: "node collect", class: clsSuccess, args: func(e *exitEnv) []string {
			md := filepath.Join(filepath.Dir(e.repo), "heat.json")
			if err := os.WriteFile(md, []byte(`{"deployments": []}`), 0o600); err != nil {
				e.t.Fatal(err)
			}
			n := filepath.Join(filepath.Dir(e.repo), "node9")
			return []string{"node", "collect", "--config-file", md, "--state-dir", filepath.Join(n, "state"), "--key-repository", filepath.Join(n, "fernet-keys")}
		}},
		{cmd: "node collect", class: clsUsage, args: func(e *exitEnv) []string {
			e.t.Setenv("OS_CONFIG_FILES", "")
			return []string{"node", "collect", "--state-dir", e.emptyDir}
		}},
		{cmd: "node collect", class: clsRefused, na: "a refused deployment is signalled to Heat (deploy_status_code 1), not an exit code"},
		{cmd: "node collect", class: clsBusy, na: "applies each deployment under node install's lock, waiting for it"},
		{cmd: "node collect", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"node", "collect", "--config-file", e.emptyDir, "--state-dir", e.emptyDir}
		}},
		{cmd: "node hook", class: clsSuccess, na: "a deployment's success needs a signed envelope over stdin: node_transport_test runs it"},
		{cmd: "node hook", class: clsUsage, args: func(e *exitEnv) []string { return []string{"node", "hook", "extra"} }},
		{cmd: "node hook", class: clsRefused, na: "a refused deployment is reported in its JSON (deploy_status_code 1) and exits 0, as heat-config's hooks do"},
		{cmd: "node hook", class: clsBusy, na: "as node collect"},
		{cmd: "node hook", class: clsFailure, args: func(e *exitEnv) []string { return []string{"node", "hook", "--state-dir", e.emptyDir} }},

		{cmd: "heat template", class: clsSuccess, args: func(e *exitEnv) []string {
			return []string{"heat", "template", "--output", filepath.Join(e.emptyDir, "templates")}
		}},
		{cmd: "heat template", class: clsUsage, args: func(e *exitEnv) []string { return []string{"heat", "template", "extra"} }},
		{cmd: "heat template", class: clsRefused, na: "writes generated files"},
		{cmd: "heat template", class: clsBusy, na: noLock},
		{cmd: "heat template", class: clsFailure, args: func(e *exitEnv) []string {
			return []string{"heat", "template", "--output", filepath.Join(e.file, "templates")}
		}},
	}
	// The commands that talk to a cloud: success needs one (the
	// integration suite runs them on real Heat and Mistral); without
	// credentials they fail, and a bad flag is usage.
	for _, c := range [][]string{{"heat", "servers"}, {"heat", "deployments"}, {"heat", "cleanup"}, {"mistral", "register"}, {"mistral", "unregister"}, {"mistral", "executions"}} {
		name := strings.Join(c, " ")
		rows = append(rows,
			exitRow{cmd: name, class: clsSuccess, na: "needs a cloud: test/integration runs it on real Heat and Mistral"},
			exitRow{cmd: name, class: clsUsage, args: func(e *exitEnv) []string { return append(append([]string{}, c...), "--no-such-flag") }},
			exitRow{cmd: name, class: clsRefused, na: "reads or writes the cloud's records only"},
			exitRow{cmd: name, class: clsBusy, na: noLock},
			exitRow{cmd: name, class: clsFailure, args: func(e *exitEnv) []string {
				args := append([]string{}, c...)
				if name == "mistral register" {
					args = append(args, "--action-server", "http://127.0.0.1:8990") // required: its absence is usage
				}
				return args
			}, setup: func(e *exitEnv) func() { return e.noCloud() }},
		)
	}
	rows = append(rows,
		exitRow{cmd: "serve", class: clsSuccess, na: "runs until stopped: serve_actions_test starts and stops it"},
		exitRow{cmd: "serve", class: clsUsage, args: func(e *exitEnv) []string {
			return []string{"serve", "--state-dir", e.state, "--listen", "127.0.0.1:0"} // no --allowed-project
		}},
		exitRow{cmd: "serve", class: clsRefused, na: "fires triggers; their runs say their own outcome"},
		exitRow{cmd: "serve", class: clsBusy, na: "shares the executions store with other processes (bbolt's lock per transaction)"},
		exitRow{cmd: "serve", class: clsFailure, args: func(e *exitEnv) []string { return []string{"serve", "--state-dir", e.file} }},

		exitRow{cmd: "demo", class: clsSuccess, args: func(e *exitEnv) []string { return []string{"demo", "--dir", filepath.Join(e.emptyDir, "demo")} }},
		exitRow{cmd: "demo", class: clsUsage, args: func(e *exitEnv) []string { return []string{"demo", "extra"} }},
		exitRow{cmd: "demo", class: clsRefused, na: "the demo's refusal is one of its steps, expected"},
		exitRow{cmd: "demo", class: clsBusy, na: "a throwaway fleet of its own"},
		exitRow{cmd: "demo", class: clsFailure, args: func(e *exitEnv) []string { return []string{"demo", "--dir", filepath.Join(e.file, "demo")} }},
	)
	return rows
}
