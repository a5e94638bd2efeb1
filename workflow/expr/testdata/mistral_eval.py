#!/usr/bin/python3
"""Evaluate workflow/expr's conformance table with Mistral's own evaluator.

Reads the table (JSON, see conformance.json) on stdin and runs every case
through mistral.expressions.evaluate, the function Mistral's engine uses
for <% %> and Jinja ({{ }}, {% %}) expressions, on Debian's python3-yaql,
python3-jinja2 and python3-mistral. A "template" case is passed as it is
(Mistral picks Jinja when it holds {{ }} or {% %}); an "expr" case is
wrapped in <% %>.

  mistral_eval.py check   print {"checked": N, "failures": [...]} and exit 1
                          when Mistral disagrees with a case
  mistral_eval.py fill    print the table with "want"/"error" of every case
                          set from Mistral's answer (to write new cases)
  mistral_eval.py sample  fill, but drop the cases Mistral takes over 2 s
                          on, or answers with what JSON cannot hold: for
                          generated tables (testdata/mutate.py)

task(), tasks(), execution(), env() and global() read the case's
"workflow" fixture (global() its "context"): the database calls behind
them are replaced by lookups in the fixture, so the functions themselves
are Mistral's.
"""
import collections.abc
import datetime
import functools
import json
import re
import signal
import sys
import types

import jinja2

from mistral import config

config.parse_args([])

from mistral import expressions  # noqa: E402
from mistral.db.v2 import api as db_api  # noqa: E402
from mistral.expressions import std_functions  # noqa: E402

CURRENT = {}  # the workflow fixture of the case being evaluated


class _Time(str):
    def isoformat(self, sep=' '):
        return str(self)


def _exec(id):
    e = dict(CURRENT.get('execution') or {})
    e.setdefault('id', id)
    ns = types.SimpleNamespace(**{k: e.get(k) for k in (
        'id', 'name', 'spec', 'input', 'params', 'root_execution_id')})
    ns.context = CURRENT.get('context') or {}  # what global() reads
    ns.created_at = _Time(e.get('created_at', ''))
    ns.updated_at = _Time(e.get('updated_at', ''))
    return ns


class _Row(dict):
    """A task execution of the fixture, as a dict and as a DB row."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)


def _task(id):
    t = (CURRENT.get('tasks') or {}).get(id)
    return _Row(t) if t is not None else None


def _tasks(workflow_execution_id=None, name=None, state=None, **kw):
    """The fixture's tasks (in its order) that match the query."""
    out = []
    for t in (CURRENT.get('tasks') or {}).values():
        if name is not None and t.get('name') != name:
            continue
        if state is not None and t.get('state') != state:
            continue
        if (workflow_execution_id is not None and
                t.get('workflow_execution_id') != workflow_execution_id):
            continue
        out.append(_Row(t))
    return out


db_api.get_workflow_execution = _exec
db_api.get_task_execution = _task
db_api.get_task_executions = _tasks
# task() and tasks() give plain dicts, as the real _convert_to_user_model
# does (a _Row would answer attr('state'), which Mistral's dict does not).
std_functions._convert_to_user_model = lambda t: dict(t)


def _set_rank(x):
    if x is None:
        return 0
    if isinstance(x, bool):
        return 1
    if isinstance(x, (int, float)):
        return 2
    if isinstance(x, str):
        return 3
    return 4


def _set_order(a, b):
    """The order in which workflow/expr lists a set (setOrder in sets.go):
    null, booleans, numbers, strings, the rest; by value within a kind
    where Python can compare them. A set has no order of its own: this
    only makes the recorded list comparable."""
    ra, rb = _set_rank(a), _set_rank(b)
    if ra != rb:
        return ra - rb
    try:
        return (a > b) - (a < b)
    except TypeError:
        return 0


def plain(v):
    """Mistral's result as JSON data; sets (keys()) become sorted lists.

    A Jinja Undefined ({{ 'x' if false }}) is what Mistral's evaluator
    returns there, which Mistral then fails to store as JSON: an error.
    """
    if isinstance(v, jinja2.Undefined):
        raise TypeError('Object of type Undefined is not JSON serializable')
    if isinstance(v, (collections.abc.Iterator, collections.abc.MappingView)):
        # Mistral stores a value through utils.to_json_str: its fallback
        # lists a generator ({{ l | map('string') }}) and oslo's
        # to_primitive any other iterator or dict view.
        return [plain(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((plain(x) for x in v), key=functools.cmp_to_key(_set_order))
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (datetime.datetime, datetime.date)):
        return str(v)
    return v


def evaluate(table, case):
    global CURRENT
    data = case.get('data')
    if 'context' in case:
        data = table['contexts'][case['context']]
    data = json.loads(json.dumps(data))  # a fresh copy
    wf = None
    if 'workflow' in case:
        wf = table['workflows'][case['workflow']]
        data = dict(data or {})
        data['__env'] = wf.get('env')
        data['__execution'] = {'id': 'wf-exec-1'}
        cur = wf.get('current')
        data['__task_execution'] = {'id': cur, 'name': cur} if cur else None
    CURRENT = wf or {}
    src = case['template'] if 'template' in case else '<% ' + case['expr'] + ' %>'
    return plain(expressions.evaluate(src, data))


def canon(v):
    return json.dumps(v, sort_keys=True)


class _Timeout(Exception):
    pass


def _alarm(*_):
    raise _Timeout()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else 'check'
    table = json.load(sys.stdin)
    failures = []
    kept = []
    if mode == 'sample':
        signal.signal(signal.SIGALRM, _alarm)
    for case in table['cases']:
        try:
            if mode == 'sample':
                signal.alarm(2)
            got, err = evaluate(table, case), None
        except _Timeout:
            continue
        except Exception as e:  # what Mistral reports as a failed expression
            msg = str(e).split('\n')[0]
            m = re.search(r'error=(.*?), data=', msg)
            got, err = None, '%s: %s' % (type(e).__name__, m.group(1) if m else msg)
        finally:
            signal.alarm(0)
        if mode == 'sample':
            try:
                json.dumps(got, allow_nan=False)
            except (TypeError, ValueError):
                continue
            kept.append(case)
        if mode in ('fill', 'sample'):
            if err is not None:
                case.pop('want', None)
                case.setdefault('error', '')
                case['mistral_error'] = err[:300]
            else:
                case.pop('error', None)
                case.pop('mistral_error', None)
                case['want'] = got
            continue
        if 'error' in case:
            if err is None:
                failures.append({'name': case['name'], 'want': 'an error', 'got': got})
        elif err is not None:
            failures.append({'name': case['name'], 'want': case.get('want'), 'error': err})
        elif canon(got) != canon(case.get('want')):
            failures.append({'name': case['name'], 'want': case.get('want'), 'got': got})
    if mode == 'sample':
        table['cases'] = kept
    if mode in ('fill', 'sample'):
        write_table(table)
        return 0
    json.dump({'checked': len(table['cases']), 'failures': failures}, sys.stdout, indent=1)
    print()
    return 1 if failures else 0


def write_table(table):
    """One case per line, so that a diff of the table reads case by case."""
    out = sys.stdout
    out.write('{\n')
    for key in ('comment', 'contexts', 'workflows'):
        if key in table:
            out.write(' %s: %s,\n' % (json.dumps(key), json.dumps(table[key], indent=1, ensure_ascii=False).replace('\n', '\n ')))
    out.write(' "cases": [\n')
    for i, c in enumerate(table['cases']):
        out.write('  ' + json.dumps(c, ensure_ascii=False) + (',\n' if i + 1 < len(table['cases']) else '\n'))
    out.write(' ]\n}\n')


if __name__ == '__main__':
    sys.exit(main())
