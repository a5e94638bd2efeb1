#!/usr/bin/env bash
# Wall time of `fernetflow rotate --target heat` on a real Keystone 22 and
# heat-all 19 (Debian's packages), with a TripleO-style overcloud stack of 3
# OS::Heat::DeployedServer controllers (Controller ResourceGroup -> N ->
# Controller server), each polled by a real os-collect-config whose command
# is `fernetflow node collect`, at the os-collect-config polling_interval(s)
# given. Per run: the wall time of the whole process, its exit code and the
# seconds of every task the `-f json` output lists (whatever tasks it holds,
# summed by task name); then the average per task name, and the time to a
# prune-guard refusal (exit 3 expected; 2 from binaries before the exit-code table).
#
# Usage: test/bench/rotate-heat.sh [FERNETFLOW_BINARY] [POLLING_INTERVAL...]
#   FERNETFLOW=path  the binary (else the first argument; else build ./cmd/fernetflow)
#   RUNS=3           timed rotations per polling interval
#   (default polling intervals: 5 30)
#   KEEP=1           keep the work directory (configs, service logs, each run's JSON and stderr)
#
# For each polling interval P: a fresh stack overcloud-pP, fresh node
# directories and a fresh undercloud state; one "first" rotation (sets up the
# master and enrolls the nodes; reported, not averaged), RUNS timed
# rotations (max_active_keys RUNS+4, so nothing is pruned), then one
# rotation with --max-active-keys 3 --token-expiration 24h, which must be
# refused by the prune guard (exit 3; 2 before the exit-code table). Everything listens on 127.0.0.1 on
# free ports; every process started is stopped by its PID (process group) at
# exit.
#
# min_polling_interval is set to P too: os-collect-config sleeps
# min_polling_interval after its first poll and doubles the sleep up to
# polling_interval, and never shortens it again (os_collect_config/collect.py),
# so a node that has run for a minute polls every polling_interval; with the
# default min of 1 s the runs in the first half-minute after the start would
# see polls 1, 2, 4, 8, 16 s apart instead. Each poll cycle is P plus the
# poll itself (Python start-up, a Keystone authentication, the metadata GET,
# `node collect` when the metadata changed).
#
# Needs root and Debian's python3-keystone, python3-heat, heat-common,
# uwsgi-core, uwsgi-plugin-python3, python3-os-collect-config, and curl.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
gotool=$(command -v go || true)
# Debian's python3 first: the python3 on PATH may be a pyenv build without
# Keystone or Heat (os-collect-config and the tools are #!/usr/bin/python3,
# but keep PATH clean for the hooks too).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3

ff=${FERNETFLOW:-}
if [[ -z $ff && $# -gt 0 && ! $1 =~ ^[0-9]+$ ]]; then ff=$1; shift; fi
[[ $# -gt 0 ]] || set -- 5 30
polls=("$@")
runs=${RUNS:-3}

for tool in /usr/bin/keystone-manage /usr/bin/keystone-wsgi-public /usr/bin/uwsgi /usr/bin/heat-all \
	/usr/bin/heat-manage /usr/bin/os-collect-config /usr/bin/curl /usr/lib/uwsgi/plugins/python3_plugin.so; do
	[[ -e $tool ]] || { echo "missing $tool" >&2; exit 1; }
done
$PY -c 'import heat, keystone, os_collect_config' || { echo "Debian's python3-heat, python3-keystone, python3-os-collect-config are needed" >&2; exit 1; }

work=$(mktemp -d /tmp/fernetflow-bench-heat.XXXXXX)
chmod 700 "$work"
pids=()

# stop PID: SIGTERM to the process group the service leads (setsid), SIGKILL
# after 15 s (heat-all has been seen to ignore SIGTERM).
stop() {
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid ignored SIGTERM for 15 s: SIGKILL" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}"; done
	pids=()
	if [[ ${KEEP:-} == 1 ]]; then echo "# work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start LOG CMD...: run a service in its own session (its PID leads its
# process group), remembered for stop.
start() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 </dev/null &
	pids+=("$!")
}

freeport() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# waiturl URL SECONDS: until URL answers (any HTTP status).
waiturl() {
	local deadline=$((SECONDS + $2))
	until curl -s -m 10 -o /dev/null "$1"; do
		((SECONDS < deadline)) || { echo "$1 did not answer within $2 s" >&2; return 1; }
		sleep 0.2
	done
}

if [[ -z $ff ]]; then
	ff=$work/bin/fernetflow
	[[ -n $gotool ]] || { echo "no go on PATH to build ./cmd/fernetflow: pass the binary" >&2; exit 1; }
	(cd "$here" && "$gotool" build -o "$ff" ./cmd/fernetflow)
fi
ff=$(realpath "$ff")
[[ -x $ff ]] || { echo "not executable: $ff" >&2; exit 1; }

t0=$SECONDS
ks=$work/ks hd=$work/heat
mkdir -p "$ks" "$hd"
ksport=$(freeport) heatport=$(freeport) cfnport=$(freeport)
ksurl=http://127.0.0.1:$ksport/v3
adminpw=bench-admin-pw heatpw=bench-heat-pw domainpw=bench-domain-pw demopw=bench-demo-pw

cat >"$ks/keystone.conf" <<CONF
[DEFAULT]
log_file = $ks/keystone.log
[database]
connection = sqlite:///$ks/keystone.db
[fernet_tokens]
key_repository = $ks/fernet-keys
max_active_keys = 4
[fernet_receipts]
key_repository = $ks/fernet-keys
max_active_keys = 4
[credential]
key_repository = $ks/credential-keys
CONF
cat >"$hd/heat.conf" <<CONF
[DEFAULT]
log_file = $hd/heat.log
transport_url = fake://
num_engine_workers = 1
heat_metadata_server_url = http://127.0.0.1:$cfnport
heat_waitcondition_server_url = http://127.0.0.1:$cfnport/v1/waitcondition
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $domainpw
stack_user_domain_name = heat
region_name_for_services = RegionOne
[database]
connection = sqlite:///$hd/heat.db
[heat_all]
enabled_services = api,engine,api_cfn
[heat_api]
bind_host = 127.0.0.1
bind_port = $heatport
workers = 1
[heat_api_cfn]
bind_host = 127.0.0.1
bind_port = $cfnport
workers = 1
[keystone_authtoken]
www_authenticate_uri = $ksurl
auth_url = http://127.0.0.1:$ksport
auth_type = password
project_name = service
project_domain_id = default
username = heat
user_domain_id = default
password = $heatpw
region_name = RegionOne
[trustee]
auth_type = password
auth_url = http://127.0.0.1:$ksport
username = heat
password = $heatpw
user_domain_id = default
[clients_keystone]
auth_uri = http://127.0.0.1:$ksport
[oslo_messaging_notifications]
driver = noop
CONF

wal() { $PY -c 'import sqlite3,sys;sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$1"; }
# Heat's schema does not need Keystone: build it meanwhile.
heat-manage --config-file "$hd/heat.conf" db_sync >"$hd/db_sync.log" 2>&1 &
heatdb=$!
km() { keystone-manage --config-file "$ks/keystone.conf" "$@" >>"$ks/manage.log" 2>&1; }
km db_sync
wal "$ks/keystone.db"
km fernet_setup --keystone-user root --keystone-group root
km credential_setup --keystone-user root --keystone-group root
km bootstrap --bootstrap-password "$adminpw" --bootstrap-region-id RegionOne \
	--bootstrap-admin-url "$ksurl/" --bootstrap-public-url "$ksurl/" --bootstrap-internal-url "$ksurl/"
start "$ks/uwsgi.log" uwsgi --plugin python3 --http-socket "127.0.0.1:$ksport" --wsgi-file /usr/bin/keystone-wsgi-public \
	--processes 1 --threads 1 --master --lazy-apps --die-on-term --add-header 'Connection: close' \
	--env "OS_KEYSTONE_CONFIG_FILES=$ks/keystone.conf"
waiturl "$ksurl" 60

# The helper for Keystone's entities, the stack and the summary: stdlib
# only, every HTTP call bounded to 10 s.
cat >"$work/bench.py" <<'PY'
import json, os, sys, time, urllib.request, urllib.error

def call(method, url, body=None, token=None, want=(200, 201, 202, 204)):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            data, status, hdr = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        data, status, hdr = e.read(), e.code, e.headers
    if status not in want:
        sys.exit(f"{method} {url}: HTTP {status}: {data[:500]!r}")
    return (json.loads(data) if data else {}), hdr

def token(ks, user, pw, project, project_id=False):
    body, h = call("POST", ks + "/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
    if project_id:
        return h["X-Subject-Token"], body["token"]["project"]["id"]
    return h["X-Subject-Token"]

def entities(ks, heatport, adminpw, heatpw, domainpw, demopw):
    t = token(ks, "admin", adminpw, "admin")
    def create(kind, obj):
        return call("POST", f"{ks}/{kind}s", {kind: obj}, t)[0][kind]["id"]
    def role(name):
        r = call("GET", f"{ks}/roles?name={name}", token=t)[0]["roles"]
        return r[0]["id"] if r else create("role", {"name": name})
    admin, member = role("admin"), role("member")
    service = create("project", {"name": "service", "domain_id": "default"})
    heat = create("user", {"name": "heat", "password": heatpw, "domain_id": "default"})
    call("PUT", f"{ks}/projects/{service}/users/{heat}/roles/{admin}", token=t)
    svc = create("service", {"name": "heat", "type": "orchestration"})
    for iface in ("public", "internal", "admin"):
        create("endpoint", {"service_id": svc, "interface": iface, "region_id": "RegionOne",
                            "url": f"http://127.0.0.1:{heatport}/v1/%(tenant_id)s"})
    dom = create("domain", {"name": "heat"})
    hda = create("user", {"name": "heat_domain_admin", "password": domainpw, "domain_id": dom})
    call("PUT", f"{ks}/domains/{dom}/users/{hda}/roles/{admin}", token=t)
    owner = role("heat_stack_owner")
    role("heat_stack_user")
    demo = create("project", {"name": "demo", "domain_id": "default"})
    user = create("user", {"name": "demo", "password": demopw, "domain_id": "default"})
    call("PUT", f"{ks}/projects/{demo}/users/{user}/roles/{owner}", token=t)
    call("PUT", f"{ks}/projects/{demo}/users/{user}/roles/{member}", token=t)
    print(demo)

OVERCLOUD = """heat_template_version: wallaby
description: three deployed-server controllers, laid out as TripleO does (Controller group -> N -> Controller server)
resources:
  Controller:
    type: OS::Heat::ResourceGroup
    properties:
      count: 3
      resource_def:
        type: controller-role.yaml
        properties:
          Index: "%index%"
outputs:
  os_collect_config:
    value: {get_attr: [Controller, os_collect_config]}
"""
ROLE = """heat_template_version: wallaby
parameters:
  Index: {type: string}
resources:
  Controller:
    type: OS::Heat::DeployedServer
    properties:
      name: {list_join: ['-', ['overcloud-controller', {get_param: Index}]]}
      software_config_transport: POLL_SERVER_HEAT
outputs:
  os_collect_config: {value: {get_attr: [Controller, os_collect_config]}}
"""

def stack(ks, heatport, demopw, name, nodes_dir, command_fmt, poll):
    """Create the stack, wait for CREATE_COMPLETE, write ctlN/occ.conf."""
    t, pid = token(ks, "demo", demopw, "demo", project_id=True)
    url = f"http://127.0.0.1:{heatport}/v1/{pid}"
    created, _ = call("POST", url + "/stacks", {"stack_name": name, "template": OVERCLOUD,
                                                "files": {"controller-role.yaml": ROLE}, "timeout_mins": 15}, t, want=(201,))
    sid = created["stack"]["id"]
    deadline = time.time() + 600
    while True:
        s = call("GET", f"{url}/stacks/{name}/{sid}", token=t, want=(200,))[0]["stack"]
        if s["stack_status"] == "CREATE_COMPLETE":
            break
        if s["stack_status"] == "CREATE_FAILED" or time.time() > deadline:
            sys.exit(f"stack {name}: {s['stack_status']}: {s.get('stack_status_reason')}")
        time.sleep(0.5)
    occs = next(o["output_value"] for o in s["outputs"] if o["output_key"] == "os_collect_config")
    for i, occ in enumerate(occs):
        d = os.path.join(nodes_dir, f"ctl{i}")
        os.makedirs(d, exist_ok=True)
        h = occ["heat"]
        with open(os.path.join(d, "occ.conf"), "w") as f:
            f.write(f"""[DEFAULT]
collectors = heat
command = {command_fmt.format(dir=d)}
cachedir = {d}/cache
backup_cachedir = {d}/backup-cache
polling_interval = {poll}
min_polling_interval = {poll}
[heat]
auth_url = {h['auth_url']}
user_id = {h['user_id']}
password = {h['password']}
project_id = {h['project_id']}
stack_id = {h['stack_id']}
resource_name = {h['resource_name']}
region_name = {h['region_name']}
[keystone]
cache_dir = {d}/keystone-cache
""")
    print(len(occs))

def record(out_json, rc, wall_ns, load0, load1):
    """One run as a JSON line: exit code, wall, load, state, servers ok and
    the seconds of every task it lists, summed by task name (in first-seen order)."""
    rec = {"rc": int(rc), "wall": int(wall_ns) / 1e9, "load": [load0, load1], "state": None, "tasks": {}, "count": {}}
    try:
        ex = json.load(open(out_json))
    except (OSError, ValueError):
        ex = {}
    rec["state"] = ex.get("state")
    rec["generation"] = ex.get("generation")
    servers = ex.get("servers") or []
    rec["ok"] = f"{sum(1 for x in servers if x.get('state') == 'ok')}/{len(servers)}"
    info = " ".join((ex.get("state_info") or "").split())
    rec["info"] = info[:200]
    for x in ex.get("tasks") or []:
        n = x.get("name", "?")
        rec["tasks"][n] = rec["tasks"].get(n, 0.0) + float(x.get("seconds") or 0)
        rec["count"][n] = rec["count"].get(n, 0) + 1
    print(json.dumps(rec))

def line(label, rec):
    tasks = "  ".join(f"{n}={s:.2f}" + (f"(x{rec['count'][n]})" if rec["count"][n] > 1 else "") for n, s in rec["tasks"].items())
    return (f"{label:<6} rc={rec['rc']} state={rec['state']} gen={rec.get('generation')} servers_ok={rec.get('ok')} wall={rec['wall']:6.2f}s "
            f"load={rec['load'][0]}->{rec['load'][1]}  tasks: {tasks or '-'}")

def summary(poll, recfile):
    recs = [json.loads(l) for l in open(recfile)]
    timed = [r for r in recs if r["kind"] == "run"]
    print(f"## polling_interval {poll}: summary")
    for r in recs:
        print("  " + line(r["label"], r))
    if timed:
        walls = [r["wall"] for r in timed]
        print(f"  rotations timed: {len(timed)}, rc: {[r['rc'] for r in timed]}, wall mean {sum(walls)/len(walls):.2f}s "
              f"min {min(walls):.2f}s max {max(walls):.2f}s")
        names = []
        for r in timed:
            names += [n for n in r["tasks"] if n not in names]
        print(f"  {'task (seconds, summed per run)':<32} {'mean':>8} {'min':>8} {'max':>8} {'runs':>5}")
        for n in names:
            v = [r["tasks"][n] for r in timed if n in r["tasks"]]
            print(f"  {n:<32} {sum(v)/len(v):8.2f} {min(v):8.2f} {max(v):8.2f} {len(v):5d}")
    for r in recs:
        if r["kind"] == "guard":
            ok = "as expected" if r["rc"] in (2, 3) else "UNEXPECTED (want 3, or 2 before the exit-code table)"
            print(f"  prune-guard refusal: rc={r['rc']} ({ok}) wall={r['wall']:.2f}s load={r['load'][0]}->{r['load'][1]}")
            print(f"    state_info: {r.get('info') or '-'}")

cmd = sys.argv[1]
if cmd == "entities":
    entities(*sys.argv[2:])
elif cmd == "stack":
    stack(*sys.argv[2:])
elif cmd == "record":
    record(*sys.argv[2:])
elif cmd == "line":
    print(line(sys.argv[2], json.loads(sys.argv[3])))
elif cmd == "summary":
    summary(*sys.argv[2:])
PY
bench() { $PY "$work/bench.py" "$@"; }
bench entities "$ksurl" "$heatport" "$adminpw" "$heatpw" "$domainpw" "$demopw" >/dev/null

wait "$heatdb" || { cat "$hd/db_sync.log" >&2; exit 1; }
wal "$hd/heat.db"
start "$hd/heat-all.out" heat-all --config-file "$hd/heat.conf"
waiturl "http://127.0.0.1:$heatport/" 60

cat >"$work/clouds.yaml" <<YAML
clouds:
  bench:
    auth:
      auth_url: $ksurl
      username: demo
      password: $demopw
      project_name: demo
      user_domain_id: default
      project_domain_id: default
    region_name: RegionOne
    identity_api_version: 3
YAML
export OS_CLIENT_CONFIG_FILE=$work/clouds.yaml
unset OS_CLOUD OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_TOKEN 2>/dev/null || true

rev=$(${gotool:-false} version -m "$ff" 2>/dev/null | awk '$2=="vcs.revision"{print substr($3,1,12)}' || true)
echo "# fernetflow rotate --target heat: $(date -u +%FT%TZ), $(uname -m), nproc $(nproc)"
echo "# binary: $ff (sha256 $(sha256sum "$ff" | cut -c1-12), vcs.revision ${rev:-unknown})"
echo "# keystone $(dpkg-query -W -f '${Version}' python3-keystone), heat $(dpkg-query -W -f '${Version}' python3-heat), os-collect-config $(dpkg-query -W -f '${Version}' python3-os-collect-config)"
echo "# keystone + heat-all up in $((SECONDS - t0)) s; runs per polling interval: $runs; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"

load() { cut -d' ' -f1 /proc/loadavg; }

# rotate LABEL KIND ARGS...: one timed `fernetflow rotate`, recorded in $recs.
rotate() {
	local label=$1 kind=$2 s e rc l0 l1 rec
	shift 2
	l0=$(load)
	s=$(date +%s%N)
	set +e
	timeout 20m "$ff" rotate --target heat --os-cloud bench --stack "$stack" --role Controller \
		--state-dir "$uc" --signal-listen "127.0.0.1:$sigport" --signal-key-file "$uc/signal.key" \
		--timeout 10m -f json "$@" >"$pdir/$label.json" 2>"$pdir/$label.err"
	rc=$?
	set -e
	e=$(date +%s%N)
	l1=$(load)
	rec=$(bench record "$pdir/$label.json" "$rc" "$((e - s))" "$l0" "$l1")
	rec=${rec%\}}", \"kind\": \"$kind\", \"label\": \"$label\"}"
	echo "$rec" >>"$recs"
	bench line "$label" "$rec"
	if [[ $kind == run && $rc != 0 ]] || [[ $kind == guard && $rc != 2 ]]; then
		echo "# $label: unexpected exit $rc; its stderr (last lines):" >&2
		grep -v 'poll deployment' "$pdir/$label.err" | tail -20 >&2
	fi
}

for P in "${polls[@]}"; do
	pdir=$work/p$P uc=$work/p$P/uc stack=overcloud-p$P recs=$work/p$P/records.jsonl
	mkdir -p "$uc"
	sigport=$(freeport)
	"$ff" signer init --state-dir "$uc" >/dev/null
	ts=$SECONDS
	bench stack "$ksurl" "$heatport" "$demopw" "$stack" "$pdir" \
		"$ff node collect --state-dir {dir}/state --key-repository {dir}/fernet-keys --signer-public-key $uc/signer.pub" "$P" >/dev/null
	echo
	echo "## polling_interval $P: stack $stack CREATE_COMPLETE in $((SECONDS - ts)) s; os-collect-config (polling_interval = min_polling_interval = $P) started on ctl0..2"
	occ_pids=()
	for n in "$pdir"/ctl*; do
		start "$n/occ.log" os-collect-config --config-file "$n/occ.conf"
		occ_pids+=("$!")
	done
	rotate first first --max-active-keys $((runs + 4)) --token-expiration 1h --allow-expired-window 0
	for i in $(seq "$runs"); do
		rotate "run$i" run --max-active-keys $((runs + 4)) --token-expiration 1h --allow-expired-window 0
	done
	# Fewer active keys than present and tokens that live a day: pruning
	# would drop keys that signed tokens still valid, so the guard refuses.
	rotate guard guard --max-active-keys 3 --token-expiration 24h --allow-expired-window 0
	for pid in "${occ_pids[@]}"; do
		stop "$pid"
		for i in "${!pids[@]}"; do [[ ${pids[i]} != "$pid" ]] || unset 'pids[i]'; done
	done
	pids=("${pids[@]}")
	echo
	bench summary "$P" "$recs"
done
echo
echo "# done in $((SECONDS - t0)) s; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
