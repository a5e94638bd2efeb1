#!/usr/bin/env bash
# Time `fernetflow rotate` over the local target with N nodes: wall time and
# peak memory of the whole process (GNU time), and the share of the run spent
# outside the deploy task (delivery), from the task timings rotate -f json
# reports. The first rotation (which also enrolls every node and sets up the
# master) is timed separately from a steady-state rotation.
#
# Usage: test/bench/rotate-local.sh [N...]     (default: 3 100 1000)
# Needs: bin/fernetflow (make build), GNU time (/usr/bin/time), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin/fernetflow}
DIR=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$DIR"' EXIT
[ $# -gt 0 ] || set -- 3 100 1000
printf '%-6s %-12s %12s %12s %10s %10s\n' nodes run wall_s peak_MiB deploy_s other_%
for n in "$@"; do
  base="$DIR/n$n"; mkdir -p "$base"
  nodes=$(seq -f "$base/ctl%04g" 1 "$n" | paste -sd,)
  for run in first steady; do
    out=$(/usr/bin/time -f '%e %M' "$BIN" rotate --target local --nodes "$nodes" --state-dir "$base/uc" \
          --max-active-keys 5 --token-expiration 1h --allow-expired-window 0 --concurrency 50 -f json 2>"$base/err" ) \
      || { cat "$base/err"; exit 1; }
    read -r wall kib < <(tail -1 "$base/err")
    printf '%s' "$out" > "$base/ex.json"
    /usr/bin/python3 - "$base/ex.json" "$wall" "$kib" "$n" "$run" <<'PY'
import json, sys
ex = json.load(open(sys.argv[1]))
deploy = sum(x["seconds"] for x in ex["tasks"] if x["name"] == "deploy")
wall, kib = float(sys.argv[2]), int(sys.argv[3])
print(f"{sys.argv[4]:<6} {sys.argv[5]:<12} {wall:12.2f} {kib/1024:12.1f} {deploy:10.2f} {100*(wall-deploy)/wall:9.0f}%")
PY
  done
done
