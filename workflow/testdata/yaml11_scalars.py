#!/usr/bin/python3
"""Print how PyYAML's safe_load (the YAML 1.1 parser Mistral 15 uses)
reads each plain scalar of yaml11_scalars.json, in that file's format.

    /usr/bin/python3 workflow/testdata/yaml11_scalars.py \
        < workflow/testdata/yaml11_scalars.json > /tmp/new.json

The integration suite (TestYAML11Referee) runs it and compares its output
with the file the engine's unit test reads (TestYAML11Scalars).
"""
import json
import sys

import yaml

cases = json.load(sys.stdin)
out = []
for c in cases:
    src = c["src"]
    row = {"src": src}
    try:
        v = yaml.safe_load("v: " + src)["v"]
        kind = type(v).__name__
        if kind == "float" and (v != v or v in (float("inf"), float("-inf"))):
            row["kind"], row["want"] = "float", repr(v)
        elif kind in ("date", "datetime"):
            row["kind"] = "date"
        elif kind == "int" and not -2**63 <= v < 2**63:
            row["kind"] = "bigint"
        else:
            row["kind"], row["want"] = kind, v
    except yaml.YAMLError as e:
        row["kind"] = "error"
    out.append(row)
print("[")
print(",\n".join("  " + json.dumps(r) for r in out))
print("]")
