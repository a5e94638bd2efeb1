// Package expr evaluates the YAQL expressions of Mistral workflows: the
// text inside <% %> in a workflow's input, publish, output and transition
// conditions. It is fernetflow's own lexer, parser and evaluator for the
// subset of YAQL 2.0 that workflows use, checked against Mistral 15's
// evaluator on Debian's python3-yaql (testdata/conformance.json holds the
// cases, the integration suite replays them through Python).
//
// # Use
//
// Parse once, evaluate many times:
//
//	p, err := expr.Parse("$.servers.where($.role = 'Controller').select($.name)")
//	if err != nil {
//		return err // a *SyntaxError: "expr: column 12: unexpected ..., expected ..."
//	}
//	names, err := p.Eval(ctx, data, funcs)
//
// A *Program holds no evaluation state: share it between goroutines. For
// the strings of a workflow definition use [EvalString] (or [ParseTemplate]
// to parse once), and [EvalValue] for a whole input dict: they follow
// Mistral's rules. A string that is exactly one <% %> gives the value with
// its type ("<% $.nodes %>" is a list); expressions embedded in longer text
// are replaced by Python's str() of their value, as Mistral does (true is
// "True", null is "None", a list is "['a', 'b']"). A <% %> must close on
// the line it opens, and a string without one is returned as it is.
//
// # Data model
//
// $ and every value are JSON-like: nil, bool, int64, float64, string,
// []any and map[string]any. Integers and floats stay apart as in Python:
// 7 / 2 is 3 (floor division), 7.0 / 2 is 3.5, 1 = 1.0 is true. Decode
// JSON with [UnmarshalJSON] (encoding/json alone would turn every number
// into a float) and print results with [MarshalJSON], which writes 1.0 for
// a float. [Normalize] converts other Go values (int, []string, structs
// with json tags) into the model. Inside an expression, where(),
// select(), skip(), orderBy(), keys() and yaql's other functions that give
// a Python iterator give one here too (see yaqlIter): true even when
// empty, equal only to itself, not indexable, and the error of its lambda
// waits until something reads it ($.l.where($ > 1) = [3, 2] is false,
// as in Mistral); its items are computed at once, and an expression's
// result is always a list. Dicts have no order: keys(),
// values() and str() walk them by sorted key, where Python keeps insertion
// order. Integers are 64-bit: an overflow is an error, where Python would
// grow the integer.
//
// # The language
//
//   - data: $ (the context), $.a.b (a missing key is an error, as in
//     Mistral), $.list.key (that key of every dict in a list), x?.key (null
//     when x is null), x[0], x[-1], dict['key'], dict['key', default],
//     $name and $1 (variables from let() and lambdas)
//   - literals: 1, 1.5, 'single', "double", `verbatim`, true, false, null,
//     [1, 2], {key => value}; a bare name such as abc is the string "abc"
//   - operators, loosest first: ->; or; and; not; = != < > <= >= in;
//     plus and minus; * / mod; =~ !~ (regular expressions); unary + -;
//     [ ]; . ?.
//   - yaql's standard library as Mistral 15 configures it: strings
//     (format with Python's format specs, split, rightSplit, replace,
//     trim, trimLeft, trimRight, norm, isEmpty, toCharArray, indexOf, ...),
//     regex() and its methods, collections and queries (select, where,
//     groupBy, orderBy/thenBy, aggregate, zip, slice, append, insert,
//     delete, replace, distinct, ...), dicts (set, items, containsValue,
//     delete, mergeWith, ...), sets (set, toSet, union, ...), math (abs,
//     pow, round, sign, bitwise*, random), bool, coalesce, switch,
//     selectCase, switchCase, let, with, unpack, def, assert; funcs.go
//     lists every name and whether it is a function or a method
//   - Mistral's functions: task(name) and task() (the current task),
//     tasks(), execution(), env(), global(name), uuid(), json_dump,
//     json_parse, json_pp, yaml_dump, yaml_parse
//
// yaql decides which names are functions and which are methods:
// $.list.first() works and first($.list) is an error, as in Mistral. In a
// lambda argument (where($.x > 1), select($.name)) $ and $1 are the item.
// let(x => 1, y => $.a) -> $x + $y binds variables for the expression
// after ->. switch(cond => value, ...) returns the first value whose
// condition holds, or null.
//
// # task(), execution() and env()
//
// Only the workflow engine knows these values; it passes them in [Funcs].
// Task receives "" for task() (the current task) and returns the task
// execution as Mistral shows it (id, name, state, state_info, result,
// published, ...) or nil when there is no such task, which makes
// task(name).result an error, as in Mistral. Global and Tasks serve
// global(name) and tasks(...). A nil Funcs field makes
// task(), tasks(), global() and execution() fail with an error and env()
// return null. Internal gives what Mistral's context view adds to every
// expression's data: __execution, __env and, in a task,
// __task_execution ({{ _.__env.region }}, <% $.get('__env') %>); the data
// is copied with them only for an expression that may read them
// (readsView).
//
// # Bounds
//
// An expression comes from a workflow definition, so evaluation is
// bounded ([Limits], [DefaultLimits]): nesting depth, elements per list or
// range, bytes per string, the size of a value that is printed, compared
// or returned, and evaluation steps. An evaluation over a limit fails with
// an error wrapping [ErrLimit], never with a stack overflow or an
// out-of-memory. Evaluation checks its context every 1024 steps and stops
// with the context's error once it is cancelled.
//
// # Regular expressions
//
// =~, !~, matches and regex() take Python 3's re syntax and follow its
// semantics, as Mistral does: backreferences (\1, (?P=name)), look-ahead
// and look-behind, atomic groups and possessive quantifiers, Unicode \d,
// \w, \s and \b, $ before a final newline, \Z. The pattern is rewritten
// for a backtracking engine (github.com/dlclark/regexp2), so a pattern
// can take time exponential in the text, as in Python: every match stops
// after [RegexTimeout] with an error wrapping [ErrLimit] that names the
// pattern.
//
// # Conformance
//
// testdata/conformance.json is a table of cases (expression or template,
// context, optional task/execution/env fixture) with the value or error
// Mistral's evaluator gives. To add one, append the case without a want
// and let Mistral fill it in:
//
//	/usr/bin/python3 testdata/mistral_eval.py fill < testdata/conformance.json > new.json
//
// An error case may name a substring the Go error must contain. The unit
// tests compare the Go evaluator with the table; `go test -tags integration
// -run Yaql ./test/integration/` checks the table against Mistral again.
//
// # Differences from YAQL and Mistral
//
// # Jinja
//
// A string with {{ }} or {% %} (on one line) is Jinja, as in Mistral,
// whose evaluators are tried in the order jinja, yaql: a <% %> inside a
// Jinja string is plain text ([Validate], which workflow validation uses,
// refuses such a mix as Mistral's loader does). A string that is exactly
// one {{ }} gives the value with its type; anything else renders, each
// {{ }} as Python's str() of its value; {% %} without any {{ }} fails
// ("list index out of range"), as in Mistral. The context is Mistral's: _
// is the data, and task(), tasks(), execution(), env(), global(), uuid(),
// json_dump, json_parse, json_pp, yaml_dump and yaml_parse are globals
// bound to it and filters that take the filtered value as the data
// ({{ _ | env }} works, {{ x | json_dump }} lacks an argument, as in
// Mistral). They share the YAQL functions' implementation. Undefined names
// and keys are errors (StrictUndefined); a failing string gives a
// *JinjaError naming it. The engine is github.com/nikolalohinski/gonja/v2
// with Python's and Jinja's behaviour put back where gonja's differs:
//   - the lexer: a character that is no part of Jinja's syntax in a tag is
//     an error, Python's other whitespace (\v, \f, \xa0...) a space;
//   - operators: Python's arithmetic, ==, !=, ordering and in (any
//     expression on its right, 3 in [1] + [3]), chained comparisons
//     (0 < x < 10), indexes from the end down to -len; an operator's error
//     fails the evaluation even where gonja would drop it (a for loop's if);
//   - filters: str(), ~, string, tojson, reverse, round, sum, sort, trim,
//     abs, first, max, min, attr, default, map, select, reject, selectattr
//     and rejectattr (a missing attribute, test or filter is an error);
//     tests: even, odd, divisibleby, upper, lower and the comparisons;
//   - Python's str and list methods.
//
// A dict method's name read as an attribute ({{ _.items }}) is an error:
// Jinja finds the method before the key, which Mistral then prints as
// "<built-in method ...>" or fails to store (write _['items']). Macros
// recurse at most 195 calls deep, about where Mistral's Python stops.
// Cases marked go_differs list where the engine still differs (tuples
// print as lists; dict keys are strings).
// Jinja evaluation is bounded by a step budget on range() and operators
// and by the size of its output, not by Limits.
//
// Left out: delegates, slicing beyond [i], the date and
// time functions (now() returns an ISO string, not a datetime) and
// executions(). The regular expressions are Python's re, compiled for
// github.com/dlclark/regexp2's backtracking engine (lookaround,
// backreferences, Python's \d, \w, \s, $ and (?P<name>...)), each match
// bounded by RegexTimeout; \N{name} knows Unicode's names, not aliases. Sets
// leave an evaluation as lists in sorted order; a dict's items() is a set
// of (key, value) pairs, which cannot leave an evaluation unless empty
// (Mistral fails with "unhashable type: 'list'"); endless sequences
// (sequence(), repeat(), cycle()) can only be read with take() or
// first(). Cases of testdata/conformance.json marked go_differs name the
// remaining differences.
package expr
