#!/usr/bin/python3
"""Time BenchmarkWhereSelect1000's expression on python3-yaql, for BENCHMARKS.md.

Parses and evaluates $.servers.where($.role = 'Controller').select($.name)
over the same 1,000 servers as the Go benchmark, both with plain yaql
(list() of the lazy result) and through Mistral's evaluator, which is what
a workflow pays. Prints the median of several timeit rounds per call,
in wall-clock time and in this process's CPU time.

  /usr/bin/python3 workflow/expr/testdata/bench_mistral.py [regex]

With "regex", only BenchmarkRegex's queries.
"""
import statistics
import sys
import time
import timeit

import yaql
from mistral import config

config.parse_args([])
from mistral import expressions  # noqa: E402

EXPR = "$.servers.where($.role = 'Controller').select($.name)"
servers = []
for i in range(1000):
    servers.append({
        'name': 'overcloud-%d' % i,
        'role': 'Controller' if i % 3 == 0 else 'Compute',
        'ip': '192.0.2.%d' % (i % 250),
        'id': '0b4c6f1e-%04d' % i,
    })
data = {'servers': servers}
engine = yaql.factory.YaqlFactory().create()
assert len(list(engine(EXPR).evaluate(data=data))) == 334
assert len(expressions.evaluate('<% ' + EXPR + ' %>', data)) == 334


def bench(name, fn, number=20, repeat=7):
    wall = statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number
    cpu = statistics.median(timeit.repeat(fn, number=number, repeat=repeat,
                                          timer=time.process_time)) / number
    print('%-38s %9.1f µs/op wall %9.1f µs/op cpu  (median of %d x %d)'
          % (name, wall * 1e6, cpu * 1e6, repeat, number))


# BenchmarkRegex's queries (regexBench in bench_test.go).
REGEX = [
    ('match_op', r"$.servers.where($.name =~ '^overcloud-\d*[05]$').len()"),
    ('regex_replace', r"let(re => regex('^(\d+)\.(\d+)\.(\d+)\.(\d+)$')) -> $.servers.select($re.replace($.ip, '\\4.\\3.\\2.\\1')).len()"),
    ('search_split', r"$.servers.select(regex('(\w+)-(\d+)').search($.name, $2.value) + regex('-').split($.id)[1]).len()"),
]
if sys.argv[1:] == ['regex']:
    for name, src in REGEX:
        assert expressions.evaluate('<% ' + src + ' %>', data) is not None, name
        bench('mistral yaql  ' + name, lambda src=src: expressions.evaluate('<% ' + src + ' %>', data), number=5)
    sys.exit(0)

bench('plain yaql: parse + evaluate', lambda: list(engine(EXPR).evaluate(data=data)))
parsed = engine(EXPR)
bench('plain yaql: evaluate (parsed once)', lambda: list(parsed.evaluate(data=data)))
bench('mistral.expressions.evaluate', lambda: expressions.evaluate('<% ' + EXPR + ' %>', data))

# BenchmarkJinja's pairs: the same query in YAQL and in Jinja, each through
# mistral.expressions.evaluate (which compiles a Jinja string on every call;
# jinja2 caches templates by source, so this is what a workflow pays).
PAIRS = [
    ('where_select', "<% $.servers.where($.role = 'Controller').select($.name) %>",
     "{{ _.servers | selectattr('role', 'equalto', 'Controller') | map(attribute='name') | list }}"),
    ('arith', "<% $.servers[0].name + '-' + str(len($.servers) * 2) %>",
     "{{ _.servers[0].name ~ '-' ~ (_.servers | length) * 2 }}"),
    ('render', "n=<% len($.servers) %> first=<% $.servers[0].name %>",
     "n={{ _.servers | length }} first={{ _.servers[0].name }}"),
]
for name, y, j in PAIRS:
    assert expressions.evaluate(y, data) == expressions.evaluate(j, data), name
    bench('mistral yaql  ' + name, lambda y=y: expressions.evaluate(y, data))
    bench('mistral jinja ' + name, lambda j=j: expressions.evaluate(j, data))
