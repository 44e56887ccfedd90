#!/usr/bin/env python
"""Refresh the Chinese catalogue: extract every marked string (as the completeness test does),
fill new or fuzzy entries from ``locale/pending/*.json`` ({"English msgid": "中文"}), and
compile. Prints what is still untranslated; exits 1 when something is.

    .venv/bin/python scripts/translate.py

Work that adds console strings puts their translations in ``locale/pending/<area>.json`` and
runs this; the JSON files are folded into ``django.po`` (the catalogue is the source of truth)
and may be deleted once merged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
IGNORE = [".venv/*", "node_modules/*", "var/*", "staticfiles/*", "tests/*"]


def pending() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "locale" / "pending").glob("*.json")):
        found.update(json.loads(path.read_text(encoding="utf-8")))
    return found


def main() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tkeportal.settings.dev"}
    python = sys.executable
    args = [python, "manage.py", "makemessages", "-l", "zh_Hans", "--no-location"]
    args += [f"--ignore={pattern}" for pattern in IGNORE]
    subprocess.run(args, cwd=ROOT, env=env, check=True)
    catalogue = polib.pofile(str(PO), wrapwidth=100)
    known = pending()
    missing = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.translated() and "fuzzy" not in entry.flags:
            continue
        text = known.get(entry.msgid)
        if text is None:
            missing.append(entry.msgid)
            continue
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = None
        if entry.msgid_plural:
            entry.msgstr_plural = {0: known.get(entry.msgid_plural, text)}
        else:
            entry.msgstr = text
    catalogue[:] = [entry for entry in catalogue if not entry.obsolete]
    catalogue.save()
    subprocess.run(["msgfmt", "--check", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
