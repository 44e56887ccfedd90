"""The PromQL subset's parser and value formatting: what it accepts, what it refuses with a
parse error, and (hypothesis) that no input makes it fail any other way."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.monitoring import promql
from apps.monitoring.promql import Aggregate, Binary, Matcher, Number, ParseError, Selector, Unary
from apps.monitoring.promql_eval import (
    BadData,
    Evaluator,
    ExecutionError,
    Grid,
    _apply,
    format_value,
    matrix,
    vector,
)


def test_selectors_with_every_matcher():
    node = promql.parse(
        'k8s_pod_cpu_core_used{cluster="c1", namespace!="kube-system", pod=~"api-.*", '
        "node!~'n[0-9]',}"
    )
    assert node == Selector(
        "k8s_pod_cpu_core_used",
        (
            Matcher("cluster", "=", "c1"),
            Matcher("namespace", "!=", "kube-system"),
            Matcher("pod", "=~", "api-.*"),
            Matcher("node", "!~", "n[0-9]"),
        ),
    )
    assert promql.parse('{__name__="k8s_node_cpu_usage"}') == Selector(
        None, (Matcher("__name__", "=", "k8s_node_cpu_usage"),)
    )


def test_regex_matchers_are_anchored_like_prometheus():
    assert Matcher("pod", "=~", "api").matches("api")
    assert not Matcher("pod", "=~", "api").matches("api-1")
    assert Matcher("pod", "!~", "api").matches("api-1")


def test_aggregations_with_grouping_before_or_after():
    inner = Selector("k8s_pod_cpu_core_used")
    assert promql.parse("sum by (namespace, node) (k8s_pod_cpu_core_used)") == Aggregate(
        "sum", inner, ("namespace", "node"), False, True
    )
    assert promql.parse("avg(k8s_pod_cpu_core_used) without (pod)") == Aggregate(
        "avg", inner, ("pod",), True, True
    )
    assert promql.parse("count(k8s_pod_cpu_core_used)") == Aggregate("count", inner)


def test_precedence_and_associativity_follow_prometheus():
    # 1 + 2 * 3 ^ 2 ^ 2 > bool 4: ^ right-assoc, then *, then +, then the comparison.
    node = promql.parse("1 + 2 * 3 ^ 2 ^ 2 > bool 4")
    assert node == Binary(
        ">",
        Binary(
            "+",
            Number(1),
            Binary("*", Number(2), Binary("^", Number(3), Binary("^", Number(2), Number(2)))),
        ),
        Number(4),
        True,
    )
    assert promql.parse("8 - 2 - 1") == Binary("-", Binary("-", Number(8), Number(2)), Number(1))
    assert promql.parse("-2 ^ 2") == Unary("-", Binary("^", Number(2), Number(2)))
    assert promql.parse("0x10 + 1e3 + .5 + Inf") is not None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no expression found"),
        ("rate(k8s_pod_cpu_core_used[5m])", "function 'rate' is not supported"),
        ("k8s_pod_cpu_core_used[5m]", "range vectors"),
        ("a and b", "set operator 'and'"),
        ("a + on(pod) b", "on(…)"),
        ("topk(3, a)", "topk"),
        ('{pod=""}', "at least one non-empty matcher"),
        ('a{pod=~"(a+)+"}', "nested repetition"),
        ('a{pod=~"["}', "error parsing regexp"),
        ('a{pod="x}', "unterminated"),
        ("a{pod}", "label matching"),
        ("sum(a, b)", "wrong number of arguments"),
        ("(1", "expected ')'"),
        ("1 +", "unexpected end of input"),
        ("1 + bool 2", "bool modifier"),
        ("a @ 100", "@ modifiers"),
        ("(" * 50 + "1" + ")" * 50, "nested too deeply"),
        ('a{__name__="b"}', "set twice"),
        ("$", "unexpected character"),
    ],
)
def test_outside_the_subset_is_a_parse_error_naming_it(text, words):
    with pytest.raises(ParseError) as caught:
        promql.parse(text)
    assert words in str(caught.value)
    assert str(caught.value).startswith("1:")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_values_are_formatted_as_go_formats_them(value, text):
    assert format_value(value) == text


def test_arithmetic_never_raises():
    assert _apply("/", 1, 0) == math.inf
    assert _apply("/", -1, 0) == -math.inf
    assert math.isnan(_apply("/", 0, 0))
    assert math.isnan(_apply("%", 1, 0))
    assert _apply("^", 10, 400) == math.inf
    assert math.isnan(_apply("^", -8, 1 / 3))
    assert _apply(">", 2, 1) == 1.0


# -- properties ------------------------------------------------------------------------------
WORDS = [
    "k8s_pod_cpu_core_used", "k8s_node_cpu_usage", "foo", "sum", "avg", "max", "min", "count",
    "by", "without", "bool", "and", "rate", "Inf", "NaN", "__name__", "pod", "namespace",
    "(", ")", "{", "}", "[", "]", ",", "=", "!=", "=~", "!~", "==", "<", ">", "<=", ">=",
    "+", "-", "*", "/", "%", "^", '"web"', "'a.*'", '"(a+)+"', '"\\x4"', "`raw`", "1", "0.5",
    "1e308", "1e309", "0x1F", "5m", "@", "#", "\n", "offset", '"unterminated',
]  # fmt: skip
tokens = st.lists(st.sampled_from(WORDS), max_size=25)
queries = st.one_of(
    st.text(max_size=80),
    tokens.map(" ".join),
    tokens.map("".join),
)


@settings(max_examples=600, deadline=None)
@given(queries)
def test_the_parser_never_fails_except_with_a_parse_error(text):
    try:
        promql.parse(text)
    except ParseError as error:
        assert str(error).startswith("1:")


class NoClusters:
    """An evaluator's user who sees no cluster: evaluation runs all the operators without a
    database."""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_evaluation_never_fails_except_with_bad_data_or_execution(text):
    try:
        node = promql.parse(text)
    except ParseError:
        return
    at = datetime(2026, 12, 1, tzinfo=UTC)
    grid = Grid(at, at + timedelta(minutes=5), timedelta(minutes=1))
    evaluator = Evaluator(None, None, grid)
    evaluator._clusters = []
    try:
        result = evaluator.evaluate(node)
    except (BadData, ExecutionError):
        return
    body = matrix(grid, result)
    assert body["resultType"] == "matrix"
    for row in body["result"]:
        assert all(isinstance(v[1], str) for v in row["values"])
    shape = vector(Grid(at, at, timedelta(seconds=1), instant=True), result)
    assert shape["resultType"] in ("vector", "scalar")
