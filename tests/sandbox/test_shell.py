"""The simulated container shell as scripts and ``kubectl cp`` use it, driven by the real
kubectl: tar streams both ways (byte-identical, binary and directories), arithmetic,
redirections, here-documents, tty, env."""

from __future__ import annotations

import hashlib
import os

import pytest

from .conftest import pod, running_pod


@pytest.fixture
def box(core, namespace):
    running_pod(core, namespace, pod("box"))
    return "box"


def test_kubectl_cp_round_trips_text_binary_and_directories(kubectl, namespace, box, tmp_path):
    blob = bytes(range(256)) * 40 + os.urandom(3000)  # every byte value, not valid UTF-8
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "notes.txt").write_text("héllo\nworld\n")
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "index.html").write_text("<h1>hi</h1>\n")
    (tree / "css" / "app.css").write_bytes(b"body{}\x00\xff")
    target = f"{namespace}/{box}"
    kubectl("cp", str(tmp_path / "blob.bin"), f"{target}:/tmp/blob.bin")
    kubectl("cp", str(tmp_path / "notes.txt"), f"{target}:/root/notes.txt")
    kubectl("cp", str(tree), f"{target}:/tmp/site")

    # inside the container: the same bytes
    digest = kubectl("exec", "-n", namespace, box, "--", "sha256sum", "/tmp/blob.bin").stdout
    assert digest == f"{hashlib.sha256(blob).hexdigest()}  /tmp/blob.bin\n"
    assert kubectl("exec", "-n", namespace, box, "--", "cat", "/root/notes.txt").stdout == (
        "héllo\nworld\n"
    )
    listing = kubectl("exec", "-n", namespace, box, "--", "ls", "/tmp/site", "/tmp/site/css")
    assert listing.stdout.split() == ["css", "index.html", "app.css"]

    out = tmp_path / "out"
    out.mkdir()
    kubectl("cp", f"{target}:/tmp/blob.bin", str(out / "blob.bin"))
    kubectl("cp", f"{target}:/tmp/site", str(out / "site"))
    assert (out / "blob.bin").read_bytes() == blob
    assert (out / "site" / "index.html").read_text() == "<h1>hi</h1>\n"
    assert (out / "site" / "css" / "app.css").read_bytes() == b"body{}\x00\xff"


def test_tar_runs_as_kubectl_cp_runs_it(kubectl, namespace, box):
    """tar cf - /abs (leading / stripped, with GNU tar's notice), tar -xmf - -C dir, and the
    errors of a missing member or directory."""
    sh = ["exec", "-n", namespace, box, "--", "sh", "-c"]
    made = kubectl(*sh, "mkdir /data; echo 1 > /data/a; tar cf /tmp/x.tar /data; tar tf /tmp/x.tar")
    assert made.stdout.split() == ["data/", "data/a"]
    assert "tar: Removing leading `/' from member names" in made.stderr
    moved = kubectl(*sh, "mkdir /copy && tar -xmf /tmp/x.tar -C /copy && cat /copy/data/a")
    assert moved.stdout == "1\n"
    missing = kubectl(*sh, "tar cf - /nope", check=False)
    assert missing.returncode == 2
    assert "tar: /nope: Cannot stat: No such file or directory" in missing.stderr
    no_dir = kubectl(*sh, "tar -xmf /tmp/x.tar -C /nowhere", check=False)
    assert no_dir.returncode == 2 and "tar: /nowhere: Cannot open" in no_dir.stderr


def test_arithmetic_redirections_tty_and_env(kubectl, namespace, box):
    script = (
        "n=7; echo $((n * (3 + 1))) $((n / 2)) $((-n / 2)) $((n % 4)) $((n > 3 && n < 9)); "
        "echo to-stderr >&2; "
        "ls /nope 2>&1; "
        "ls /nope 2>/dev/null || echo quiet; "
        "echo kept > /tmp/f 2>&1; cat /tmp/f; "
        "tty; "
        "env GREETING=hi env | grep GREETING; echo ${GREETING:-unset}x"
    )
    proc = kubectl("exec", "-n", namespace, box, "--", "sh", "-c", script)
    assert proc.stdout.splitlines() == [
        "28 3 -3 3 1",
        "ls: cannot access '/nope': No such file or directory",
        "quiet",
        "kept",
        "not a tty",
        "GREETING=hi",
        "unsetx",  # env's assignment was for its command only
    ]
    assert proc.stderr == "to-stderr\n"
    bad = kubectl("exec", "-n", namespace, box, "--", "sh", "-c", "echo $((1/0))", check=False)
    assert bad.returncode == 2 and "division by zero" in bad.stderr


def test_here_documents_in_scripts_and_on_stdin(kubectl, namespace, box):
    script = (
        "cat <<EOF > /tmp/conf\n"
        "host=$HOSTNAME\n"
        "sum=$((2 + 3))\n"
        "EOF\n"
        "cat <<'RAW'\n"
        "literal $HOSTNAME\n"
        "RAW\n"
        "cat /tmp/conf"
    )
    proc = kubectl("exec", "-n", namespace, box, "--", "sh", "-c", script)
    assert proc.stdout == f"literal $HOSTNAME\nhost={box}\nsum=5\n"
    piped = kubectl(
        "exec", "-i", "-n", namespace, box, "--", "sh",
        stdin="cat <<-END\n\tindented\n\tEND\necho after\n",
    )  # fmt: skip
    assert piped.stdout == "indented\nafter\n"
