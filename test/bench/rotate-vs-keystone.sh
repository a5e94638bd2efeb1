#!/usr/bin/env bash
# Whole-process time of `fernetflow keys rotate` vs `keystone-manage
# fernet_rotate` on the same kind of repository, from one hyperfine run.
#
# Usage: test/bench/rotate-vs-keystone.sh [FERNETFLOW_BINARY]
# (default: build ./cmd/fernetflow into the throwaway directory).
#
# Each command rotates its own copy of one keystone-manage repository, in a
# throwaway directory with a throwaway keystone.conf ([fernet_tokens] and
# [fernet_receipts] both name that copy, so /etc/keystone is never touched).
# max_active_keys is 3 and fernetflow gets --force, so every run really
# rotates and prunes (fernetflow's prune guard would otherwise refuse).
# Needs Debian's python3-keystone (keystone-manage) and hyperfine.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH

for tool in /usr/bin/keystone-manage /usr/bin/hyperfine; do
	[[ -x $tool ]] || { echo "missing $tool" >&2; exit 1; }
done

ff=${1:-}
if [[ -z $ff ]]; then
	ff=$work/bin/fernetflow
	(cd "$here" && go build -o "$ff" ./cmd/fernetflow)
fi

user=$(id -un)
group=$(id -gn)
max=3

# conf NAME: a keystone.conf whose token and receipt repositories are
# $work/NAME/fernet-keys.
conf() {
	mkdir -p "$work/$1"
	cat >"$work/$1/keystone.conf" <<CONF
[DEFAULT]
log_file = $work/$1/keystone.log
[database]
connection = sqlite:///$work/$1/keystone.db
[fernet_tokens]
key_repository = $work/$1/fernet-keys
max_active_keys = $max
[fernet_receipts]
key_repository = $work/$1/fernet-keys
max_active_keys = $max
[credential]
key_repository = $work/$1/credential-keys
CONF
}

conf keystone
conf fernetflow
km() { /usr/bin/keystone-manage --config-file "$work/$1/keystone.conf" "$2" --keystone-user "$user" --keystone-group "$group" 2>/dev/null; }
km keystone fernet_setup
km keystone fernet_rotate
cp -a "$work/keystone/fernet-keys" "$work/fernetflow/"

ks_cmd="/usr/bin/keystone-manage --config-file $work/keystone/keystone.conf fernet_rotate --keystone-user $user --keystone-group $group"
ff_cmd="$ff keys rotate --key-repository $work/fernetflow/fernet-keys --max-active-keys $max --force -f json"

hyperfine --warmup 2 --runs 20 --export-json "$work/rotate.json" \
	--command-name keystone-manage "$ks_cmd" \
	--command-name fernetflow "$ff_cmd" >&2

# Both must have rotated on every run: 2 setup keys + 1 + 22 rotations,
# so the primary is 24 (keystone-manage) and 24 (fernetflow: 2 + 22).
for side in keystone fernetflow; do
	primary=$(ls "$work/$side/fernet-keys" | grep -E '^[0-9]+$' | sort -n | tail -1)
	count=$(ls "$work/$side/fernet-keys" | grep -cE '^[0-9]+$')
	if [[ $primary != 24 || $count != "$max" ]]; then
		echo "$side did not rotate on every run: primary $primary, $count keys" >&2
		exit 1
	fi
done

/usr/bin/python3 - "$work/rotate.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ks, ff = r["keystone-manage"], r["fernetflow"]
for name, x in (("keystone-manage fernet_rotate", ks), ("fernetflow keys rotate", ff)):
    print(f"{name:31s} mean {x['mean']*1000:9.2f} ms ± {x['stddev']*1000:7.2f} ms  median {x['median']*1000:9.2f} ms  (n={len(x['times'])})")
print(f"ratio (keystone-manage mean / fernetflow mean): {ks['mean']/ff['mean']:.1f}x")
PY
