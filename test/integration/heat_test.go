//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"

	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/deploy/softwareconfigs"
	"github.com/fernetflow/fernetflow/internal/deploy/softwaredeployments"
	"github.com/fernetflow/fernetflow/internal/envelope"
	"github.com/fernetflow/fernetflow/internal/keys"
)

// heatNode is one fake Keystone node: a directory with its own
// os-collect-config configuration, cache, fernetflow state and key
// repository, polling one OS::Heat::DeployedServer.
type heatNode struct {
	name, serverID string
	dir            string
	occConf        string
	stateDir, repo string
}

// heatUndercloud is fernetflow's side: a signer and a master repository.
type heatUndercloud struct {
	signer  *envelope.Signer
	pubFile string
	master  string
}

func newHeatUndercloud(t *testing.T, dir string) *heatUndercloud {
	t.Helper()
	s, _, err := envelope.InitSigner(filepath.Join(dir, "signer"))
	if err != nil {
		t.Fatal(err)
	}
	u := &heatUndercloud{signer: s, pubFile: filepath.Join(dir, "signer.pub"), master: filepath.Join(dir, "master")}
	heatWriteFile(t, u.pubFile, s.Public().String()+"\n")
	if _, err := keys.Setup(context.Background(), u.master, keys.RotateOptions{MaxActiveKeys: 3, Force: true}); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *heatUndercloud) set(t *testing.T) keys.Set {
	t.Helper()
	r, err := keys.Open(u.master)
	if err != nil {
		t.Fatal(err)
	}
	return r.Keys
}

// createServersStack creates a stack of OS::Heat::DeployedServer resources
// (the stand-ins for controllers) plus one resource that is not a server,
// waits for CREATE_COMPLETE and returns each server's os_collect_config.
func createServersStack(t *testing.T, c *gophercloud.ServiceClient, name string, servers []string) map[string]map[string]any {
	t.Helper()
	res := map[string]any{"network": map[string]any{"type": "OS::Heat::None"}}
	occ := map[string]any{}
	for _, s := range servers {
		res[s] = map[string]any{"type": "OS::Heat::DeployedServer", "properties": map[string]any{"software_config_transport": "POLL_SERVER_HEAT"}}
		occ[s] = map[string]any{"get_attr": []any{s, "os_collect_config"}}
	}
	tmpl := map[string]any{"heat_template_version": "rocky", "resources": res, "outputs": map[string]any{"occ": map[string]any{"value": occ}}}
	st := createStackAndWait(t, c, map[string]any{"stack_name": name, "template": tmpl, "timeout_mins": 15})
	out := map[string]map[string]any{}
	for _, o := range st.Outputs {
		if o["output_key"] != "occ" {
			continue
		}
		for k, v := range o["output_value"].(map[string]any) {
			out[k] = v.(map[string]any)
		}
	}
	if len(out) != len(servers) {
		t.Fatalf("stack %s: os_collect_config for %d of %d servers: %v", name, len(out), len(servers), st.Outputs)
	}
	return out
}

// createStackAndWait creates a stack from body (stack_name, template,
// files...) and waits up to 10 minutes for CREATE_COMPLETE.
func createStackAndWait(t *testing.T, c *gophercloud.ServiceClient, body map[string]any) *stacks.RetrievedStack {
	t.Helper()
	ctx := context.Background()
	name := body["stack_name"].(string)
	var created struct {
		Stack struct {
			ID string `json:"id"`
		} `json:"stack"`
	}
	if _, err := c.Post(ctx, c.ServiceURL("stacks"), body, &created, &gophercloud.RequestOpts{OkCodes: []int{201}}); err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		s, err := stacks.Get(ctx, c, name, created.Stack.ID).Extract()
		if err != nil {
			t.Fatalf("get stack %s: %v", name, err)
		}
		switch s.Status {
		case "CREATE_COMPLETE":
			return s
		case "CREATE_FAILED":
			t.Fatalf("stack %s: %s", name, s.StatusReason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s after 10 minutes", name, s.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// newHeatNode writes a node directory whose os-collect-config polls the
// server's metadata and runs fernetflow's node collect, with
// --signer-public-key u.pubFile unless it is empty.
func newHeatNode(t *testing.T, root string, srv deploy.Server, occ map[string]any, u *heatUndercloud) *heatNode {
	t.Helper()
	dir := filepath.Join(root, srv.Name)
	n := &heatNode{name: srv.Name, serverID: srv.ID, dir: dir, occConf: filepath.Join(dir, "occ.conf"),
		stateDir: filepath.Join(dir, "state"), repo: filepath.Join(dir, "fernet-keys")}
	h := occ["heat"].(map[string]any)
	if h["resource_name"] != srv.Resource {
		t.Fatalf("server %s: os_collect_config polls resource %v", srv.Name, h["resource_name"])
	}
	command := fmt.Sprintf("%s node collect --state-dir %s --key-repository %s", fernetflowBin, n.stateDir, n.repo)
	if u.pubFile != "" {
		command += " --signer-public-key " + u.pubFile
	} // else: the signer a pin-signer deployment pins in the state directory
	heatWriteFile(t, n.occConf, fmt.Sprintf(`[DEFAULT]
collectors = heat
command = %s
cachedir = %[2]s/cache
backup_cachedir = %[2]s/backup-cache
polling_interval = 5
min_polling_interval = 1
[heat]
auth_url = %v
user_id = %v
password = %v
project_id = %v
stack_id = %v
resource_name = %v
region_name = %v
[keystone]
cache_dir = %[2]s/keystone-cache
`, command, dir, h["auth_url"], h["user_id"], h["password"], h["project_id"], h["stack_id"], h["resource_name"], h["region_name"]))
	return n
}

// poll runs os-collect-config once on the node, as its timer would.
func (n *heatNode) poll(t testing.TB) {
	t.Helper()
	heatRunEnv(t, 2*time.Minute, nil, "os-collect-config", "--config-file", n.occConf, "--one-time")
}

// pollAll runs os-collect-config on every node, conc at a time, and
// returns how long each run took.
func pollAll(t testing.TB, nodes []*heatNode, conc int) []time.Duration {
	t.Helper()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	errs := make([]string, len(nodes))
	took := make([]time.Duration, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "os-collect-config", "--config-file", n.occConf, "--one-time")
			cmd.Env = heatSubprocessEnv()
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("os-collect-config on %s: %v\n%s", n.name, err, out)
			}
			took[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	if s := strings.Join(errs, ""); s != "" {
		t.Fatal(s)
	}
	return took
}

var (
	enrollConfig  = softwareconfigs.CreateOpts{Name: "fernetflow-enroll", Group: "fernetflow", Config: "enroll"}
	installConfig = softwareconfigs.CreateOpts{Name: "fernetflow-install", Group: "fernetflow", Config: "install",
		Inputs: []softwareconfigs.Input{{Name: "envelope", Type: "String"}}}
)

// pushAndWait pushes one deployment per target, runs os-collect-config on
// the nodes, and waits for every signal; it returns the results by server.
func pushAndWait(t *testing.T, c *gophercloud.ServiceClient, rcv *deploy.Receiver, nodes []*heatNode, targets []deploy.Target, cfg softwareconfigs.CreateOpts) map[string]deploy.Result {
	t.Helper()
	ctx := context.Background()
	deps, err := deploy.Push(ctx, c, targets, deploy.PushOptions{Config: cfg, Receiver: rcv, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	pollAll(t, nodes, 4)
	res, err := deploy.Wait(ctx, c, deps, deploy.WaitOptions{Timeout: 2 * time.Minute, Receiver: rcv, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]deploy.Result{}
	for _, r := range res {
		out[r.Server] = r
	}
	return out
}

// TestHeat drives fernetflow against a real Keystone and heat-all, with
// real os-collect-config running `fernetflow node collect` on fake nodes.
func TestHeat(t *testing.T) {
	e, c := startHeatClient(t)
	rcv, err := deploy.NewReceiver(c, deploy.ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Close() })

	t.Run("collect", func(t *testing.T) { testHeatCollect(t, e, c, rcv) })
	t.Run("heat_signal", func(t *testing.T) { testHeatSignal(t, c) })
	if sizes := os.Getenv("FERNETFLOW_HEAT_BENCH"); sizes != "" {
		t.Run("bench", func(t *testing.T) { benchHeat(t, e, c, rcv, sizes) })
	}
	if t.Failed() {
		t.Log(e.tail())
	}
}

func testHeatCollect(t *testing.T, e *heatEnv, c *gophercloud.ServiceClient, rcv *deploy.Receiver) {
	ctx := context.Background()
	root := t.TempDir()
	u := newHeatUndercloud(t, filepath.Join(root, "undercloud"))
	names := []string{"ctrl-0", "ctrl-1", "ctrl-2", "ctrl-silent"}
	occ := createServersStack(t, c, "fernet", names)

	// Discovery: the DeployedServers, not the None resource.
	servers, err := deploy.DiscoverServers(ctx, c, "fernet", deploy.ServerFilter{Name: "ctrl-*"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range servers {
		got = append(got, s.Name)
		if s.Type != "OS::Heat::DeployedServer" || s.ID == "" || s.StackName != "fernet" {
			t.Errorf("server %+v", s)
		}
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Fatalf("discovered %v, want %v", got, names)
	}
	var nodes []*heatNode
	var silent deploy.Server
	for _, s := range servers {
		if s.Name == "ctrl-silent" {
			silent = s // its os-collect-config never runs
			continue
		}
		nodes = append(nodes, newHeatNode(t, root, s, occ[s.Name], u))
	}
	live := servers[:3]

	// Round 1: enroll. Each node makes its identity and reports its recipient.
	t0 := time.Now()
	var targets []deploy.Target
	for _, s := range live {
		targets = append(targets, deploy.Target{Server: s})
	}
	enrolled := pushAndWait(t, c, rcv, nodes, targets, enrollConfig)
	t.Logf("enroll of 3 servers confirmed in %s", time.Since(t0).Round(time.Millisecond))
	recipients := map[string]string{}
	for _, s := range live {
		r := enrolled[s.Name]
		rcp, _ := r.Outputs["recipient"].(string)
		if r.Status != "COMPLETE" || r.Outputs["server_id"] != s.ID || !strings.HasPrefix(rcp, "age1") || r.Outputs["deploy_status_code"] != 0.0 {
			t.Fatalf("enroll of %s: %+v", s.Name, r)
		}
		recipients[s.Name] = rcp
	}
	// The metadata os-collect-config polled, read as nested JSON.
	md, err := deploy.ResourceMetadata(ctx, c, "fernet", servers[0].StackID, servers[0].Resource)
	if err != nil {
		t.Fatal(err)
	}
	if deps, _ := md["deployments"].([]any); len(deps) != 1 || deps[0].(map[string]any)["group"] != "fernetflow" {
		t.Fatalf("metadata of ctrl-0: %v", md)
	}
	// A copy of ctrl-0 as enrolled, for the hook below.
	twin := filepath.Join(root, "ctrl-0-hook")
	heatRunEnv(t, time.Minute, nil, "cp", "-a", nodes[0].dir, twin)

	// Round 2: install the master set, sealed to each node.
	set := u.set(t)
	targets = nil
	for _, s := range live {
		rcp, err := envelope.ParseRecipient(recipients[s.Name])
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Seal(set, 1, s.ID, rcp, u.signer)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, deploy.Target{Server: s, InputValues: map[string]any{"envelope": string(env)}})
	}
	t0 = time.Now()
	installed := pushAndWait(t, c, rcv, nodes, targets, installConfig)
	t.Logf("install of 3 servers confirmed in %s", time.Since(t0).Round(time.Millisecond))
	want := fmt.Sprint(set.Fingerprint())
	for _, n := range nodes {
		r := installed[n.name]
		if r.Status != "COMPLETE" || r.Outputs["fingerprint"] != want || r.Outputs["generation"] != 1.0 || r.Outputs["changed"] != true {
			t.Fatalf("install on %s: %+v", n.name, r)
		}
		repo, err := keys.Open(n.repo)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(repo.Keys.Fingerprint()) != want {
			t.Fatalf("%s holds %s, want %s", n.name, repo.Keys.Fingerprint(), want)
		}
	}

	// The hook contract: the same deployment through `node hook` on the
	// enrolled twin of ctrl-0 gives the outputs collect signalled.
	metadata, err := softwaredeployments.Metadata(ctx, c, live[0].ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	last := metadata[len(metadata)-1]
	if last.Name != "fernetflow-install" {
		t.Fatalf("newest deployment of ctrl-0 is %q", last.Name)
	}
	in, _ := json.Marshal(last)
	cmd := exec.Command(fernetflowBin, "node", "hook", "--state-dir", filepath.Join(twin, "state"),
		"--key-repository", filepath.Join(twin, "fernet-keys"), "--signer-public-key", u.pubFile)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node hook: %v\n%s", err, out)
	}
	var hooked map[string]any
	if err := json.Unmarshal(out, &hooked); err != nil {
		t.Fatalf("node hook printed %q: %v", out, err)
	}
	for _, k := range []string{"deploy_stdout", "deploy_stderr", "deploy_status_code", "generation", "fingerprint", "changed"} {
		if fmt.Sprint(hooked[k]) != fmt.Sprint(installed["ctrl-0"].Outputs[k]) {
			t.Errorf("%s: hook %v, collect %v", k, hooked[k], installed["ctrl-0"].Outputs[k])
		}
	}

	// Cleanup: a second install round supersedes the first; cleanup keeps
	// the newest deployment per config name.
	removed, err := deploy.Cleanup(ctx, c, live[0].ID, deploy.CleanupOptions{})
	if err != nil || len(removed) != 0 {
		t.Fatalf("cleanup with nothing superseded: %v %v", removed, err)
	}
	pushAndWait(t, c, rcv, nodes[:1], targets[:1], installConfig)
	removed, err = deploy.Cleanup(ctx, c, live[0].ID, deploy.CleanupOptions{})
	if err != nil || len(removed) != 1 || removed[0].ConfigName != "fernetflow-install" {
		t.Fatalf("cleanup: %v %v", removed, err)
	}
	metadata, err = softwaredeployments.Metadata(ctx, c, live[0].ID).Extract()
	if err != nil || len(metadata) != 2 {
		t.Fatalf("metadata after cleanup: %d configs, %v", len(metadata), err)
	}

	// The operator commands see the same, through clouds.yaml.
	cliOut := func(args ...string) []map[string]any {
		t.Helper()
		cmd := exec.Command(fernetflowBin, append(args, "--os-cloud", heatItCloud, "-f", "json")...)
		cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+e.clouds)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("fernetflow %v: %v\n%s", args, err, out)
		}
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("fernetflow %v printed %q: %v", args, out, err)
		}
		return rows
	}
	if rows := cliOut("heat", "servers", "--stack", "fernet", "--name", "ctrl-?"); len(rows) != 3 || rows[0]["server_id"] != live[0].ID {
		t.Fatalf("heat servers: %v", rows)
	}
	rows := cliOut("heat", "deployments", "--stack", "fernet", "--name", "ctrl-0")
	if len(rows) != 2 || rows[0]["config_name"] != "fernetflow-enroll" || rows[1]["config_name"] != "fernetflow-install" || rows[1]["status"] != "COMPLETE" {
		t.Fatalf("heat deployments: %v", rows)
	}

	// A node whose os-collect-config never runs: the wait times out and
	// names it.
	deps, err := deploy.Push(ctx, c, []deploy.Target{{Server: silent}}, deploy.PushOptions{Config: enrollConfig, Receiver: rcv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = deploy.Wait(ctx, c, deps, deploy.WaitOptions{Timeout: 3 * time.Second, Receiver: rcv})
	var we *deploy.WaitError
	if !errors.As(err, &we) || len(we.TimedOut) != 1 || !strings.Contains(err.Error(), "ctrl-silent") {
		t.Fatalf("silent node: err = %v", err)
	}
	t.Logf("silent node: %v", err)
}

// benchHeat times pushing and confirming install deployments to N servers
// (FERNETFLOW_HEAT_BENCH=3,10,30): the stack, enrollment and node
// directories are set up first and not timed.
func benchHeat(t *testing.T, e *heatEnv, c *gophercloud.ServiceClient, rcv *deploy.Receiver, sizes string) {
	ctx := context.Background()
	const conc = 8     // fernetflow's push and wait concurrency
	const nodeConc = 4 // os-collect-config runs at once: the nodes share this machine's 2 CPUs
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			t.Fatalf("FERNETFLOW_HEAT_BENCH=%q: want sizes like 3,10,30", sizes)
		}
		root := t.TempDir()
		u := newHeatUndercloud(t, filepath.Join(root, "undercloud"))
		stack := fmt.Sprintf("bench-%d", n)
		var names []string
		for i := range n {
			names = append(names, fmt.Sprintf("node-%02d", i))
		}
		ts := time.Now()
		occ := createServersStack(t, c, stack, names)
		stackTook := time.Since(ts)
		servers, err := deploy.DiscoverServers(ctx, c, stack, deploy.ServerFilter{})
		if err != nil || len(servers) != n {
			t.Fatalf("discover %d servers: %d, %v", n, len(servers), err)
		}
		var nodes []*heatNode
		var targets []deploy.Target
		for _, s := range servers {
			nodes = append(nodes, newHeatNode(t, root, s, occ[s.Name], u))
			targets = append(targets, deploy.Target{Server: s})
		}
		enrolled := pushAndWait(t, c, rcv, nodes, targets, enrollConfig)
		set := u.set(t)
		targets = targets[:0]
		for _, s := range servers {
			rcp, err := envelope.ParseRecipient(enrolled[s.Name].Outputs["recipient"].(string))
			if err != nil {
				t.Fatal(err)
			}
			env, err := envelope.Seal(set, 1, s.ID, rcp, u.signer)
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, deploy.Target{Server: s, InputValues: map[string]any{"envelope": string(env)}})
		}
		t0 := time.Now()
		deps, err := deploy.Push(ctx, c, targets, deploy.PushOptions{Config: installConfig, Receiver: rcv, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		pushed := time.Since(t0)
		took := pollAll(t, nodes, nodeConc)
		polled := time.Since(t0)
		var sum time.Duration
		for _, d := range took {
			sum += d
		}
		res, err := deploy.Wait(ctx, c, deps, deploy.WaitOptions{Timeout: 5 * time.Minute, Receiver: rcv, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		total := time.Since(t0)
		for _, r := range res {
			if r.Status != "COMPLETE" {
				t.Fatalf("%s: %s", r.Server, r.Status)
			}
		}
		load, _ := os.ReadFile("/proc/loadavg")
		t.Logf("BENCH servers=%d concurrency=%d push=%s nodes_applied=%s confirmed=%s fernetflow_only=%s node_run_mean=%s (stack create %s, not timed; loadavg %s)",
			n, conc, pushed.Round(time.Millisecond), polled.Round(time.Millisecond), total.Round(time.Millisecond),
			(pushed + total - polled).Round(time.Millisecond), (sum / time.Duration(n)).Round(time.Millisecond),
			stackTook.Round(time.Second), strings.Fields(string(load))[0])
	}
}

// testHeatSignal: a stack-managed deployment of group fernetflow with
// HEAT_SIGNAL: node collect signals the stack resource with the deploy_*
// credentials, and the stack completes with the node's outputs.
func testHeatSignal(t *testing.T, c *gophercloud.ServiceClient) {
	ctx := context.Background()
	root := t.TempDir()
	u := newHeatUndercloud(t, filepath.Join(root, "undercloud"))
	tmpl := map[string]any{
		"heat_template_version": "rocky",
		"resources": map[string]any{
			"hs-0": map[string]any{"type": "OS::Heat::DeployedServer", "properties": map[string]any{"software_config_transport": "POLL_SERVER_HEAT"}},
			"enroll_config": map[string]any{"type": "OS::Heat::SoftwareConfig", "properties": map[string]any{
				"group": "fernetflow", "config": "enroll", "outputs": []any{map[string]any{"name": "recipient"}, map[string]any{"name": "server_id"}}}},
			"enroll": map[string]any{"type": "OS::Heat::SoftwareDeployment", "properties": map[string]any{
				"config": map[string]any{"get_resource": "enroll_config"}, "server": map[string]any{"get_resource": "hs-0"},
				"signal_transport": "HEAT_SIGNAL", "actions": []any{"CREATE", "UPDATE"}}},
		},
		"outputs": map[string]any{
			"recipient": map[string]any{"value": map[string]any{"get_attr": []any{"enroll", "recipient"}}},
			"status":    map[string]any{"value": map[string]any{"get_attr": []any{"enroll", "deploy_status_code"}}},
		},
	}
	var created struct {
		Stack struct {
			ID string `json:"id"`
		} `json:"stack"`
	}
	if _, err := c.Post(ctx, c.ServiceURL("stacks"), map[string]any{"stack_name": "fernet-hs", "template": tmpl, "timeout_mins": 10}, &created, &gophercloud.RequestOpts{OkCodes: []int{201}}); err != nil {
		t.Fatal(err)
	}
	// The server resource completes first; its metadata holds the
	// os-collect-config settings and, soon, the deployment.
	var srv deploy.Server
	var occ map[string]any
	deadline := time.Now().Add(5 * time.Minute)
	for occ == nil {
		if time.Now().After(deadline) {
			t.Fatal("the deployment never reached hs-0's metadata")
		}
		time.Sleep(500 * time.Millisecond)
		servers, err := deploy.DiscoverServers(ctx, c, "fernet-hs", deploy.ServerFilter{})
		if err != nil || len(servers) != 1 {
			continue
		}
		md, err := deploy.ResourceMetadata(ctx, c, "fernet-hs", created.Stack.ID, "hs-0")
		if err != nil {
			t.Fatal(err)
		}
		if deps, _ := md["deployments"].([]any); len(deps) == 1 {
			srv, occ = servers[0], md["os-collect-config"].(map[string]any)
		}
	}
	n := newHeatNode(t, root, srv, occ, u)
	n.poll(t)
	for {
		st, err := stacks.Get(ctx, c, "fernet-hs", created.Stack.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == "CREATE_COMPLETE" {
			out := map[string]any{}
			for _, o := range st.Outputs {
				out[fmt.Sprint(o["output_key"])] = o["output_value"]
			}
			rcp, _ := out["recipient"].(string)
			if !strings.HasPrefix(rcp, "age1") || fmt.Sprint(out["status"]) != "0" {
				t.Fatalf("stack outputs %v", out)
			}
			return
		}
		if st.Status != "CREATE_IN_PROGRESS" || time.Now().After(deadline) {
			t.Fatalf("stack fernet-hs: %s %s", st.Status, st.StatusReason)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
