#!/usr/bin/python3
"""Generate new expression cases from conformance.json, to run through
Mistral and the Go evaluator (differential testing).

  mutate.py literals SEED   replace one literal (number or string) of each
                            case by another value of another kind
  mutate.py names SEED      replace one method (YAQL) or filter (Jinja)
                            name of each case by another the table uses

Cases that could run long (range, sequence, repetition, ...) or that read
the clock or randomness are left out. The output is a table without
answers: fill it on Mistral, then check Go against it:

  /usr/bin/python3 testdata/mutate.py literals 1 > /tmp/m.json
  /usr/bin/python3 testdata/mistral_eval.py sample < /tmp/m.json > /tmp/m_filled.json
  FERNETFLOW_CONFORMANCE_TABLE=/tmp/m_filled.json go test -run 'TestConformance$' .

Each disagreement is Mistral's behaviour to match or a known go_differs
class (dict keys that are not strings, big integers, tuples); a case worth
keeping joins conformance.json under a name of its own.
"""
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = re.compile(r"range|sequence|repeat|cycle|now|uuid|sleep|random|memorize|\*")
LITERAL = re.compile(r"(?<![\w.$])(-?\d+(?:\.\d+)?|'[^'\\]*')(?![\w.])")
METHOD = re.compile(r"\.([a-z][A-Za-z]*)\(")
FILTER = re.compile(r"\|\s*([a-z_]+)")
YAQL_VALUES = ["1", "0", "-1", "2", "1.5", "0.0", "''", "' '", "'a'", "'A'", "'1'", "[]",
               "[1, 2]", "[[1], 2]", "[null]", "{}", "{a => 1}", "{b => [1]}", "null", "true", "false"]
JINJA_VALUES = ["1", "0", "-1", "2", "1.5", "0.0", "''", "' '", "'a'", "'A'", "'1'", "[]",
                "[1, 2]", "[[1], 2]", "[none]", "{}", "{'a': 1}", "{'b': [1]}", "none", "true", "false"]


def main():
    mode, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    with open(os.path.join(HERE, 'conformance.json')) as f:
        table = json.load(f)
    methods, filters = set(), set()
    for c in table['cases']:
        methods.update(METHOD.findall(c.get('expr', '')))
        filters.update(FILTER.findall(c.get('template', '')))
    methods, filters = sorted(methods), sorted(filters)
    out = []
    for c in table['cases']:
        if c.get('go_differs'):
            continue
        key = 'template' if 'template' in c else 'expr'
        src = c[key]
        if SKIP.search(src):
            continue
        if mode == 'literals':
            spots = list(LITERAL.finditer(src))
            group, values = 0, JINJA_VALUES if key == 'template' else YAQL_VALUES
        else:
            spots = list((FILTER if key == 'template' else METHOD).finditer(src))
            group, values = 1, filters if key == 'template' else methods
        for _ in range(2 if spots else 0):
            m = rng.choice(spots)
            new = src[:m.start(group)] + rng.choice(values) + src[m.end(group):]
            if new == src or SKIP.search(new):
                continue
            case = {k: c[k] for k in ('context', 'data', 'workflow') if k in c}
            case['name'] = '%s_%d_%d' % (mode, seed, len(out))
            case[key] = new
            out.append(case)
    table['cases'] = out
    json.dump(table, sys.stdout, ensure_ascii=False)


if __name__ == '__main__':
    main()
