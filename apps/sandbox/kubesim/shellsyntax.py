"""The parts of the simulated shell's grammar that ``shlex`` does not know: ``$((…))``
arithmetic, redirections (``>``, ``>>``, ``<``, ``2>&1``, ``>&2``, ``2>/dev/null``) and
here-documents (``cat <<EOF … EOF``, ``<<-``, quoted delimiters).

Redirections are found before ``shlex`` splits the line (it cannot tell ``2>&1`` from
``2 >& 1``) and replaced by marker words, outside quotes only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MARK = "\ue000"  # brackets a redirection marker word (a private-use character)
_REDIRECT = re.compile(r"(\d?)(>>|>&|>|<<-|<<|<)")
_DUP = re.compile(r"\d")
_HEREDOC = re.compile(r"\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


class ArithmeticError_(Exception):
    """``$((…))`` that does not evaluate (the message is the shell's)."""


@dataclass(frozen=True)
class Redirect:
    """``fd`` goes to a file (``op`` W write, A append), duplicates fd ``dup`` (D), reads a
    file (R), or reads here-document number ``index`` (H)."""

    op: str
    fd: int = 1
    dup: int = 0
    index: int = 0


@dataclass(frozen=True)
class HereDoc:
    delimiter: str
    expand: bool  # an unquoted delimiter: the body's $VAR and $((…)) are expanded
    strip_tabs: bool  # <<-


def mark_redirections(line: str) -> tuple[str, list[HereDoc]]:
    """``line`` with each unquoted redirection replaced by `` <MARK>spec<MARK> `` (its target,
    if any, stays the next word), and the here-documents it opens, in order."""
    out: list[str] = []
    docs: list[HereDoc] = []
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and quote != "'" and i + 1 < len(line):
            out.append(line[i : i + 2])
            i += 2
            continue
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote == ch else ch
        elif quote is None and ch in "0123456789<>":
            at_word_start = i == 0 or line[i - 1].isspace() or line[i - 1] in ";&|"
            match = _REDIRECT.match(line, i)
            if match and (not match.group(1) or at_word_start):
                spec, end = _spec(line, match, docs)
                if spec is not None:
                    out.append(f" {MARK}{spec}{MARK} ")
                    i = end
                    continue
        out.append(ch)
        i += 1
    return "".join(out), docs


def _spec(line: str, match: re.Match, docs: list[HereDoc]) -> tuple[str | None, int]:
    digit, op = match.group(1), match.group(2)
    end = match.end()
    if op == ">&":
        dup = _DUP.match(line, end)
        if dup is None:
            return None, end
        return f"D{digit or 1}:{dup.group()}", dup.end()
    if op in ("<<", "<<-"):
        word = _HEREDOC.match(line, end)
        if word is None:
            return None, end
        docs.append(HereDoc(word.group(2), not word.group(1), op == "<<-"))
        return f"H0:{len(docs) - 1}", word.end()
    if op == "<":
        return f"R{digit or 0}:", end
    return f"{'A' if op == '>>' else 'W'}{digit or 1}:", end


def split_chains(line: str) -> list[tuple[str, str]]:
    """``line`` cut at unquoted ``;``, ``&&``, ``||`` and ``&`` into (joiner, command) pairs;
    the first joiner is ``;``. Pipes stay inside a command; ``>&``, ``$((…))`` are not cuts.
    Raises ValueError for an unterminated quote."""
    chains: list[tuple[str, str]] = []
    joiner, start, quote, depth = ";", 0, None, 0
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote == ch else ch
        elif quote is None:
            if line.startswith("$((", i):
                depth += 1
                i += 3
                continue
            if depth and line.startswith("))", i):
                depth -= 1
                i += 2
                continue
            if not depth:
                op = next((o for o in ("&&", "||", ";", "&") if line.startswith(o, i)), None)
                if op == "&" and i and line[i - 1] in "<>":
                    op = None  # 2>&1, >&2
                if op:
                    chains.append((joiner, line[start:i]))
                    joiner, start = op, i + len(op)
                    i += len(op)
                    continue
        i += 1
    if quote is not None:
        raise ValueError("No closing quotation")
    chains.append((joiner, line[start:]))
    return [(j, c) for j, c in chains if c.strip() or j != ";"]


def parse_marker(word: str) -> Redirect | None:
    if not (len(word) > 2 and word[0] == MARK and word[-1] == MARK):
        return None
    op, fd, rest = word[1], word[2 : word.index(":")], word[word.index(":") + 1 : -1]
    if op == "D":
        return Redirect("D", int(fd), dup=int(rest))
    if op == "H":
        return Redirect("H", 0, index=int(rest))
    return Redirect(op, int(fd))


# -- $((…)) ------------------------------------------------------------------------------------
_NAME = re.compile(r"\$?\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: _div(a, b),
    ast.Mod: lambda a, b: a - b * _div(a, b),
    ast.Pow: lambda a, b: a**b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b,
}
_COMPARE = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def arithmetic(expr: str, env: dict[str, str]) -> int:
    """The value of a shell arithmetic expression: integers, variables (unset or not a number:
    0), ``+ - * / % **``, shifts and bit operators, comparisons, ``! && ||``, parentheses.
    Division truncates toward zero, as in C."""

    def value(match: re.Match) -> str:
        raw = env.get(match.group(1), "0").strip() or "0"
        return f"({int(raw)})" if re.fullmatch(r"-?\d+", raw) else "0"

    source = _NAME.sub(value, expr)
    source = source.replace("&&", " and ").replace("||", " or ")
    source = re.sub(r"!(?!=)", " not ", source)
    try:
        return int(_eval(ast.parse(source.strip() or "0", mode="eval").body))
    except ZeroDivisionError:
        raise ArithmeticError_(f'arithmetic expression: division by zero: "{expr}"') from None
    except (SyntaxError, ValueError, TypeError, OverflowError, RecursionError):
        raise ArithmeticError_(f'arithmetic expression: syntax error: "{expr}"') from None


def _eval(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (right < 0 or right > 256):
            raise ValueError
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return int(not operand)
        if isinstance(node.op, ast.Invert):
            return ~operand
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return int(_COMPARE[type(node.ops[0])](_eval(node.left), _eval(node.comparators[0])))
    if isinstance(node, ast.BoolOp):
        values = [_eval(v) for v in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    raise ValueError("unsupported")


def find_arithmetic(line: str, start: int) -> int | None:
    """The index just past the ``))`` closing the ``$((`` at ``start``, or None."""
    depth, i = 0, start + 3
    while i < len(line):
        if line[i] == "(":
            depth += 1
        elif line[i] == ")":
            if depth == 0:
                return i + 2 if line[i + 1 : i + 2] == ")" else None
            depth -= 1
        i += 1
    return None
