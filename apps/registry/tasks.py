"""Registry tasks: garbage collection of the registry's storage.

``docker-registry garbage-collect --delete-untagged <config>`` marks every blob a tagged
manifest references and deletes the rest, and the manifests no tag names. It reads the same
storage the running registry writes: distribution warns that a push during the run can lose
its blobs, so run it in a maintenance window, or with the registry read-only
(``storage.maintenance.readonly.enabled: true``) — README.md, "Registry".
"""

from __future__ import annotations

import logging
import os
import re
import subprocess

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .choices import GarbageCollectionStatus
from .models import GarbageCollection

logger = logging.getLogger(__name__)

SUMMARY = re.compile(
    r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion", re.I
)
DELETED_BLOB = re.compile(r"Deleting blob: ", re.I)
# The output kept on the report (the tail: the summary and the deletions come last).
MAX_OUTPUT = 64 * 1024


class GarbageCollectionError(Exception):
    pass


def storage_bytes(root: str) -> int:
    """Bytes of the files under ``root`` (the registry's filesystem storage)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def parse_output(text: str) -> dict:
    """What the garbage collector reported: blobs marked, blobs and manifests eligible for
    deletion, blobs it deleted."""
    found = SUMMARY.search(text)
    marked, eligible, manifests = (int(g) for g in found.groups()) if found else (0, 0, 0)
    deleted = len(DELETED_BLOB.findall(text)) or eligible
    return {"blobs_marked": marked, "blobs_deleted": deleted, "manifests_deleted": manifests}


def _command() -> list[str]:
    config = settings.REGISTRY_CONFIG_PATH
    if not config:
        raise GarbageCollectionError(
            "REGISTRY_CONFIG_PATH is not set: the garbage collector needs the registry's "
            "configuration file (the one `docker-registry serve` runs with)."
        )
    if not os.path.exists(config):
        raise GarbageCollectionError(f"REGISTRY_CONFIG_PATH {config} does not exist.")
    binary = settings.REGISTRY_BINARY
    if not os.path.exists(binary):
        raise GarbageCollectionError(f"REGISTRY_BINARY {binary} does not exist.")
    return [binary, "garbage-collect", "--delete-untagged", config]


def run_garbage_collection(run: GarbageCollection) -> GarbageCollection:
    """Run the garbage collector and record its report on ``run``."""
    run.status, run.started_at = GarbageCollectionStatus.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    storage = settings.REGISTRY_STORAGE_DIR
    try:
        command = _command()
        if storage:
            run.bytes_before = storage_bytes(storage)
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=settings.REGISTRY_GC_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GarbageCollectionError(
                f"The garbage collector ran longer than {settings.REGISTRY_GC_TIMEOUT} s."
            ) from exc
        except OSError as exc:
            raise GarbageCollectionError(f"The garbage collector did not start: {exc}") from exc
        output = (result.stdout or "") + (result.stderr or "")
        run.output = output[-MAX_OUTPUT:]
        for name, value in parse_output(output).items():
            setattr(run, name, value)
        if storage:
            run.bytes_after = storage_bytes(storage)
            run.bytes_freed = run.bytes_before - run.bytes_after
        if result.returncode != 0:
            raise GarbageCollectionError(
                f"The garbage collector exited with {result.returncode}: "
                f"{output.strip().splitlines()[-1] if output.strip() else 'no output'}"
            )
        run.status = GarbageCollectionStatus.SUCCEEDED
    except GarbageCollectionError as exc:
        run.status, run.error = GarbageCollectionStatus.FAILED, str(exc)
        logger.warning("registry garbage collection %s failed: %s", run.pk, exc)
    run.finished_at = timezone.now()
    run.save()
    return run


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def garbage_collect(run_id: int) -> str:
    """Run the garbage collection ``run_id`` (once: a finished run is not repeated)."""
    run = GarbageCollection.objects.filter(pk=run_id).first()
    if run is None or run.status in (
        GarbageCollectionStatus.SUCCEEDED,
        GarbageCollectionStatus.FAILED,
    ):
        return "nothing to do"
    return run_garbage_collection(run).status
