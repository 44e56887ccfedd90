"""Unit tests of kubesim helpers that have no HTTP surface of their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core import quantity
from apps.sandbox.kubesim.batch import cron_matches
from apps.sandbox.kubesim.containerfs import FileSystem
from apps.sandbox.kubesim.errors import ApiError
from apps.sandbox.kubesim.selectors import parse_label_selector
from apps.sandbox.kubesim.shell import Shell, ShellIO
from apps.sandbox.kubesim.table import human_duration


@pytest.mark.parametrize(
    "text,value",
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1Gi", Decimal(2**30)),
        ("1e3", Decimal(1000)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1k", Decimal(1000)),
    ],
)
def test_quantity_parse(text, value):
    assert quantity.parse(text) == value


@given(st.integers(min_value=1, max_value=10**6))
def test_quantity_cpu_round_trip(milli):
    text = quantity.format_cpu(Decimal(milli) / 1000)
    assert quantity.parse(text) == Decimal(milli) / 1000


def test_quantity_rejects_garbage():
    with pytest.raises(quantity.QuantityError):
        quantity.parse("lots")


@pytest.mark.parametrize(
    "schedule,when,fires",
    [
        ("*/15 * * * *", datetime(2025, 1, 1, 10, 30, tzinfo=UTC), True),
        ("*/15 * * * *", datetime(2025, 1, 1, 10, 31, tzinfo=UTC), False),
        ("0 9-17 * * 1-5", datetime(2025, 1, 6, 9, 0, tzinfo=UTC), True),  # Monday
        ("0 9-17 * * 1-5", datetime(2025, 1, 5, 9, 0, tzinfo=UTC), False),  # Sunday
        ("@daily", datetime(2025, 3, 1, 0, 0, tzinfo=UTC), True),
    ],
)
def test_cron_matches(schedule, when, fires):
    assert cron_matches(schedule, when) is fires


def test_label_selector_grammar_errors_are_400():
    with pytest.raises(ApiError) as err:
        parse_label_selector("a in (b")
    assert err.value.code == 400
    assert parse_label_selector("x>3").matches({"x": "4"})
    assert not parse_label_selector("x>3").matches({"x": "2"})


@pytest.mark.parametrize(
    "seconds,text",
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (3600, "60m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
        (400 * 86400, "400d"),
    ],
)
def test_human_duration_matches_apimachinery(seconds, text):
    assert human_duration(seconds) == text


def run_shell(script: str, stdin: bytes | None = None, tty: bool = False) -> tuple[int, str]:
    async def main() -> tuple[int, str]:
        out: list[bytes] = []

        async def write(data: bytes) -> None:
            out.append(data)

        queue: asyncio.Queue[bytes | None] | None = None
        if stdin is not None:
            queue = asyncio.Queue()
            queue.put_nowait(stdin)
            queue.put_nowait(None)
        shell = Shell(
            FileSystem(), {"HOME": "/root", "X": "42"}, ShellIO(queue, write, write, tty), "box"
        )
        code = await shell.exec(["sh", "-c", script] if script else ["sh"])
        return code, b"".join(out).decode()

    return asyncio.run(main())


def test_shell_sequencing_pipes_redirection_and_expansion():
    code, out = run_shell(
        "echo $X; false || echo fallback; true && echo yes; "
        "echo a > /f; echo b >> /f; cat /f | grep b | wc -l; exit 7"
    )
    assert code == 7
    assert out.split("\n")[:3] == ["42", "fallback", "yes"]
    assert out.split("\n")[3].strip() == "1"
    assert run_shell("nosuchcmd")[0] == 127
    assert run_shell("echo '$X'")[1] == "$X\n"


def test_shell_interactive_line_editing():
    code, out = run_shell("", stdin=b"echp\x7fo hi\rexit 2\r", tty=True)
    assert code == 2
    assert "hi\r\n" in out and out.startswith("root@box:/# ")
