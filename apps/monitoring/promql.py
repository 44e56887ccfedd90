"""A small PromQL subset: the parser (no eval, no recursion past a fixed depth) and its AST.

Accepted::

    expr      := expr binop [bool] expr | '-' expr | '+' expr | '(' expr ')' | number
               | aggr | selector
    binop     := '^' | '*' '/' '%' | '+' '-' | '==' '!=' '<=' '<' '>=' '>'   (Prometheus'
                 precedence, ``^`` right-associative, the rest left)
    aggr      := ('sum'|'avg'|'max'|'min'|'count') [grouping] '(' expr ')' [grouping]
    grouping  := ('by'|'without') '(' [label {',' label}] [','] ')'
    selector  := metric_name ['{' [matcher {',' matcher}] [','] '}'] | '{' matchers '}'
    matcher   := label ('='|'!='|'=~'|'!~') string
    number    := decimal | hex | 'Inf' | 'NaN' (any case), with exponent

Everything else PromQL has (range selectors ``[5m]``, functions, ``offset``, ``@``, ``on``/
``ignoring``/``group_left``, ``and``/``or``/``unless``, ``topk``, subqueries) is refused with a
:class:`ParseError` naming it. Evaluation is apps.monitoring.promql_eval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 4096
MAX_DEPTH = 40
MAX_REGEX_LENGTH = 512

AGGREGATIONS = ("sum", "avg", "max", "min", "count")
COMPARISONS = ("==", "!=", "<=", "<", ">=", ">")
ARITHMETIC = ("+", "-", "*", "/", "%", "^")
# Binding power of each binary operator (Prometheus: ^ > * / % > + - > comparisons).
PRECEDENCE = {
    "==": 1,
    "!=": 1,
    "<=": 1,
    "<": 1,
    ">=": 1,
    ">": 1,
    "+": 2,
    "-": 2,
    "*": 3,
    "/": 3,
    "%": 3,
    "^": 4,
}
UNSUPPORTED_KEYWORDS = {
    "and": "the set operator 'and'",
    "or": "the set operator 'or'",
    "unless": "the set operator 'unless'",
    "offset": "offset modifiers",
    "on": "vector matching with on(…)",
    "ignoring": "vector matching with ignoring(…)",
    "group_left": "group_left",
    "group_right": "group_right",
    "topk": "the aggregation 'topk'",
    "bottomk": "the aggregation 'bottomk'",
    "quantile": "the aggregation 'quantile'",
    "stddev": "the aggregation 'stddev'",
    "stdvar": "the aggregation 'stdvar'",
    "count_values": "the aggregation 'count_values'",
    "group": "the aggregation 'group'",
}


class ParseError(ValueError):
    """A query outside the subset, or not PromQL at all; ``position`` is 0-based."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(f"1:{position + 1}: parse error: {message}")
        self.position = position


# -- AST -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    def matches(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.compiled().fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def compiled(self) -> re.Pattern:
        return _compile(self.value)


@dataclass(frozen=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: object
    labels: tuple[str, ...] = ()
    without: bool = False
    grouped: bool = False  # a by/without clause was given


@dataclass(frozen=True)
class Unary:
    op: str  # '-' (a '+' is dropped by the parser)
    expr: object


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    bool_modifier: bool = False


# -- regular expressions ---------------------------------------------------------------------
# A quantified group that itself holds a quantifier ((a+)+, (a|aa)*…) can take exponential
# time in Python's backtracking engine (Prometheus' RE2 cannot): refused.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}?](?:[^()\\]|\\.)*\)\s*[+*{]")
_ALTERNATION_QUANTIFIED = re.compile(r"\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)\s*[+*{]")
_compiled: dict[str, re.Pattern] = {}


def _compile(pattern: str) -> re.Pattern:
    found = _compiled.get(pattern)
    if found is None:
        if len(_compiled) > 1000:
            _compiled.clear()
        found = _compiled[pattern] = re.compile(pattern, re.DOTALL)
    return found


def check_regex(pattern: str, position: int) -> None:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ParseError(f"regular expression longer than {MAX_REGEX_LENGTH} characters", position)
    if _NESTED_QUANTIFIER.search(pattern) or _ALTERNATION_QUANTIFIED.search(pattern):
        raise ParseError(
            "nested repetition in a regular expression is not supported here", position
        )
    if "(?" in pattern:
        raise ParseError("regular expression flags and lookarounds are not supported", position)
    try:
        _compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        raise ParseError(f"error parsing regexp: {error}", position) from None


# -- lexer -----------------------------------------------------------------------------------
@dataclass
class Token:
    kind: str  # number ident string op punct duration eof
    text: str
    pos: int
    value: object = field(default=None)


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?",
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPS = ("==", "!=", "=~", "!~", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "%", "^")
_PUNCT = "{}(),[]@"
_DIGITS = frozenset("0123456789")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_WORD = _IDENT_START | _DIGITS
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "#":  # a comment runs to the end of the line
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            match = _NUMBER.match(text, i)
            end = match.end()
            # A duration (5m, 1h30m) only makes sense in a range selector or offset, which
            # the parser refuses where it meets one.
            if end < n and text[end] in _WORD:
                while end < n and text[end] in _WORD:
                    end += 1
                tokens.append(Token("duration", text[i:end], i))
                i = end
                continue
            raw = match.group()
            value = float(int(raw, 16)) if raw[:2].lower() == "0x" else float(raw)
            tokens.append(Token("number", raw, i, value))
            i = end
            continue
        if ch in _IDENT_START:
            match = _IDENT.match(text, i)
            tokens.append(Token("ident", match.group(), i))
            i = match.end()
            continue
        if ch in "\"'`":
            start = i
            value, i = _string(text, i)
            tokens.append(Token("string", text[start:i], start, value))
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            if ch in _PUNCT:
                tokens.append(Token("punct", ch, i))
                i += 1
                continue
            raise ParseError(f"unexpected character {ch!r}", i)
    tokens.append(Token("eof", "", n))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if quote == "`":
            out.append(ch)
            i += 1
            continue
        if ch == "\n":
            break
        if ch == "\\":
            if i + 1 >= n:
                break
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "xuU" or nxt in "01234567":
                width = {"x": 2, "u": 4, "U": 8}.get(nxt, 3)
                digits = text[i + 2 : i + 2 + width] if nxt in "xuU" else text[i + 1 : i + 4]
                base = 8 if nxt in _DIGITS else 16
                try:
                    code = int(digits, base)
                    if len(digits) != width:
                        raise ValueError
                    out.append(chr(code))
                except (ValueError, OverflowError):
                    raise ParseError(f"invalid escape sequence in string at {i}", i) from None
                i += 2 + width if nxt in "xuU" else 4
                continue
            raise ParseError(f"unknown escape sequence '\\{nxt}'", i)
        out.append(ch)
        i += 1
    raise ParseError("unterminated quoted string", start)


# -- parser ----------------------------------------------------------------------------------
class Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.tok
        if token.kind != kind or (text is not None and token.text != text):
            want = repr(text) if text else kind
            raise ParseError(f"unexpected {_describe(token)}, expected {want}", token.pos)
        return self.take()

    def parse(self) -> object:
        if self.tok.kind == "eof":
            raise ParseError("no expression found in input", 0)
        node = self.expression(0)
        if self.tok.kind != "eof":
            raise ParseError(f"unexpected {_describe(self.tok)}", self.tok.pos)
        return node

    def expression(self, min_power: int) -> object:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("expression nested too deeply", self.tok.pos)
        try:
            lhs = self.unary()
            while True:
                token = self.tok
                if token.kind == "ident" and token.text.lower() in UNSUPPORTED_KEYWORDS:
                    raise ParseError(
                        f"{UNSUPPORTED_KEYWORDS[token.text.lower()]} is not supported",
                        token.pos,
                    )
                if token.kind != "op" or token.text not in PRECEDENCE:
                    return lhs
                power = PRECEDENCE[token.text]
                if power < min_power:
                    return lhs
                self.take()
                bool_modifier = False
                if self.tok.kind == "ident" and self.tok.text == "bool":
                    if token.text not in COMPARISONS:
                        raise ParseError(
                            "bool modifier can only be used on comparison operators",
                            self.tok.pos,
                        )
                    self.take()
                    bool_modifier = True
                if self.tok.kind == "ident" and self.tok.text.lower() in UNSUPPORTED_KEYWORDS:
                    word = self.tok.text.lower()
                    raise ParseError(f"{UNSUPPORTED_KEYWORDS[word]} is not supported", self.tok.pos)
                # ^ is right-associative: its right side binds at the same power.
                rhs = self.expression(power if token.text == "^" else power + 1)
                lhs = Binary(token.text, lhs, rhs, bool_modifier)
        finally:
            self.depth -= 1

    def unary(self) -> object:
        token = self.tok
        if token.kind == "op" and token.text in ("+", "-"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ParseError("expression nested too deeply", token.pos)
            try:
                # Unary minus binds tighter than * but looser than ^ (Prometheus: -2^2 = -4).
                inner = self.expression(PRECEDENCE["^"])
            finally:
                self.depth -= 1
            if token.text == "+":
                return inner
            if isinstance(inner, Number):
                return Number(-inner.value)
            return Unary("-", inner)
        node = self.primary()
        if self.tok.kind == "punct" and self.tok.text == "[":
            raise ParseError("range vectors and subqueries are not supported", self.tok.pos)
        if self.tok.kind == "punct" and self.tok.text == "@":
            raise ParseError("@ modifiers are not supported", self.tok.pos)
        return node

    def primary(self) -> object:
        token = self.tok
        if token.kind == "number":
            self.take()
            return Number(token.value)
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.expression(0)
            self.expect("punct", ")")
            return inner
        if token.kind == "punct" and token.text == "{":
            return self.selector(None, token.pos)
        if token.kind == "ident":
            word = token.text
            lowered = word.lower()
            if lowered in ("inf", "nan"):
                self.take()
                return Number(float(lowered))
            if lowered in AGGREGATIONS:
                return self.aggregate()
            if lowered in UNSUPPORTED_KEYWORDS:
                raise ParseError(f"{UNSUPPORTED_KEYWORDS[lowered]} is not supported", token.pos)
            self.take()
            if self.tok.kind == "punct" and self.tok.text == "(":
                raise ParseError(f"function {word!r} is not supported", token.pos)
            if lowered in ("by", "without", "bool"):
                raise ParseError(f"unexpected {word!r}", token.pos)
            return self.selector(word, token.pos)
        raise ParseError(f"unexpected {_describe(token)}", token.pos)

    def selector(self, name: str | None, pos: int) -> Selector:
        matchers: list[Matcher] = []
        if self.tok.kind == "punct" and self.tok.text == "{":
            self.take()
            while not (self.tok.kind == "punct" and self.tok.text == "}"):
                label = self.expect("ident")
                op = self.tok
                if op.kind != "op" or op.text not in ("=", "!=", "=~", "!~"):
                    raise ParseError(
                        f"unexpected {_describe(op)} in label matching, expected one of "
                        "'=', '!=', '=~' or '!~'",
                        op.pos,
                    )
                self.take()
                value = self.expect("string")
                if op.text in ("=~", "!~"):
                    check_regex(value.value, value.pos)
                matchers.append(Matcher(label.text, op.text, value.value))
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self.take()
                    continue
                if not (self.tok.kind == "punct" and self.tok.text == "}"):
                    raise ParseError(
                        f"unexpected {_describe(self.tok)} in label matching, expected ',' or '}}'",
                        self.tok.pos,
                    )
            self.take()
        names = [m for m in matchers if m.label == "__name__"]
        if name is not None and names:
            raise ParseError(f"metric name must not be set twice: {name!r}", pos)
        if name is None:
            if not any(not m.matches("") for m in matchers):
                raise ParseError("vector selector must contain at least one non-empty matcher", pos)
        return Selector(name, tuple(matchers))

    def aggregate(self) -> Aggregate:
        op = self.take().text.lower()
        labels: tuple[str, ...] = ()
        without = grouped = False
        if self.tok.kind == "ident" and self.tok.text.lower() in ("by", "without"):
            without = self.take().text.lower() == "without"
            labels = self.grouping()
            grouped = True
        self.expect("punct", "(")
        inner = self.expression(0)
        if self.tok.kind == "punct" and self.tok.text == ",":
            raise ParseError(
                f"wrong number of arguments for aggregate expression {op}", self.tok.pos
            )
        self.expect("punct", ")")
        if self.tok.kind == "ident" and self.tok.text.lower() in ("by", "without"):
            if grouped:
                raise ParseError("aggregation grouping given twice", self.tok.pos)
            without = self.take().text.lower() == "without"
            labels = self.grouping()
            grouped = True
        return Aggregate(op, inner, labels, without, grouped)

    def grouping(self) -> tuple[str, ...]:
        self.expect("punct", "(")
        labels: list[str] = []
        while not (self.tok.kind == "punct" and self.tok.text == ")"):
            labels.append(self.expect("ident").text)
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
            elif not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise ParseError(
                    f"unexpected {_describe(self.tok)} in grouping opts, expected ',' or ')'",
                    self.tok.pos,
                )
        self.take()
        return tuple(labels)


def _describe(token: Token) -> str:
    if token.kind == "eof":
        return "end of input"
    if token.kind == "string":
        return "string"
    return f"{token.kind} {token.text!r}"


def parse(text: str) -> object:
    """The AST of ``text``; ParseError for anything outside the subset."""
    if len(text) > MAX_QUERY_LENGTH:
        raise ParseError(f"query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    return Parser(text).parse()
