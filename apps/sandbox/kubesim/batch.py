"""Job and CronJob controllers (parallelism, completions, backoffLimit, TTL, cron schedules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .ctlcommon import (
    _delete_pod,
    _new_pod,
    _owned,
    _owner_ref,
    _ready,
    _write_status,
    pod_active_or_pending,
)
from .errors import ApiError
from .table import parse_time

if TYPE_CHECKING:
    from .controller import Controller


def job(ctl: Controller, j: dict[str, Any]) -> None:
    spec = j["spec"]
    status = dict(j.get("status") or {})
    conds = {x["type"] for x in status.get("conditions") or [] if x.get("status") == "True"}
    pods = _owned(ctl, j, "", "pods")
    succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
    failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
    active = [p for p in pods if pod_active_or_pending(p)]
    completions = spec.get("completions", 1)
    stamp = now_iso()
    new_status: dict[str, Any] = {
        "startTime": status.get("startTime", stamp),
        "uncountedTerminatedPods": {},
        "terminating": 0,
    }
    if "Complete" in conds or "Failed" in conds:
        return
    if succeeded >= completions:
        new_status["completionTime"] = stamp
        new_status["conditions"] = [
            {
                "type": "SuccessCriteriaMet",
                "status": "True",
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Complete",
                "status": "True",
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            },
        ]
        ctl.cluster.record_event(j, "Normal", "Completed", "Job completed", "job-controller")
    elif failed > spec.get("backoffLimit", 6):
        for pod in active:
            _delete_pod(ctl, pod, j)
        active = []
        new_status["conditions"] = [
            {
                "type": "FailureTarget",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            },
        ]
        ctl.cluster.record_event(
            j,
            "Warning",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            "job-controller",
        )
    elif spec.get("suspend"):
        for pod in active:
            _delete_pod(ctl, pod, j)
        active = []
        # the job controller's Suspended condition (what `kubectl get jobs` prints)
        before = next(
            (x for x in status.get("conditions") or [] if x.get("type") == "Suspended"), None
        )
        new_status["conditions"] = [
            before
            or {
                "type": "Suspended",
                "status": "True",
                "reason": "JobSuspended",
                "message": "Job suspended",
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            }
        ]
    else:
        missing = min(spec.get("parallelism", 1), completions - succeeded) - len(active)
        for _ in range(max(missing, 0)):
            _new_pod(
                ctl, j, spec["template"], f"{j['metadata']['name']}-{ctl.cluster.random_suffix()}"
            )
        active = [p for p in _owned(ctl, j, "", "pods") if pod_active_or_pending(p)]
    new_status.update(
        {
            "active": len(active),
            "succeeded": succeeded,
            "failed": failed,
            "ready": sum(1 for p in active if _ready(p)),
        }
    )
    for field in ("active", "succeeded", "failed"):
        if not new_status[field]:
            del new_status[field]
    _write_status(ctl, "batch", "jobs", j, new_status)


def expire_jobs(ctl: Controller) -> None:
    """ttlSecondsAfterFinished: delete finished jobs whose time is up."""
    c = ctl.cluster
    now = datetime.now(UTC)
    for j in c.objects("batch", "jobs"):
        ttl = j["spec"].get("ttlSecondsAfterFinished")
        done = parse_time((j.get("status") or {}).get("completionTime"))
        if ttl is not None and done is not None and done + timedelta(seconds=ttl) <= now:
            try:
                c.delete(
                    c.rt("batch", "jobs"),
                    j["metadata"]["namespace"],
                    j["metadata"]["name"],
                    propagation="Background",
                )
            except ApiError:
                continue


def _field_matches(spec: str, value: int, low: int, high: int) -> bool:
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
            if step != 1:
                end = high
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def cron_matches(schedule: str, when: datetime) -> bool:
    """Does the 5-field cron ``schedule`` fire at minute ``when``?"""
    fields = _MACROS.get(schedule.strip(), schedule).split()
    if len(fields) != 5:
        return False
    minute, hour, dom, month, dow = fields
    return (
        _field_matches(minute, when.minute, 0, 59)
        and _field_matches(hour, when.hour, 0, 23)
        and _field_matches(dom, when.day, 1, 31)
        and _field_matches(month, when.month, 1, 12)
        and _field_matches(dow, (when.weekday() + 1) % 7, 0, 6)
    )


def cronjob(ctl: Controller, cj: dict[str, Any]) -> None:
    c = ctl.cluster
    spec = cj["spec"]
    status = dict(cj.get("status") or {})
    jobs = _owned(ctl, cj, "batch", "jobs")
    running = [
        j
        for j in jobs
        if not any(
            x.get("type") in ("Complete", "Failed") and x.get("status") == "True"
            for x in (j.get("status") or {}).get("conditions") or []
        )
    ]
    last = parse_time(status.get("lastScheduleTime")) or parse_time(
        cj["metadata"].get("creationTimestamp")
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    due = None
    probe = (last or now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    steps = 0
    while probe <= now and steps < 1500:
        try:
            if cron_matches(spec.get("schedule", ""), probe):
                due = probe
        except ValueError:
            return
        probe += timedelta(minutes=1)
        steps += 1
    if due is not None and not spec.get("suspend"):
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and running:
            due = None
        elif policy == "Replace":
            for j in running:
                c.delete(
                    c.rt("batch", "jobs"),
                    j["metadata"]["namespace"],
                    j["metadata"]["name"],
                    propagation="Background",
                )
    if due is not None and not spec.get("suspend"):
        name = f"{cj['metadata']['name']}-{int(due.timestamp() // 60)}"
        tpl = spec.get("jobTemplate") or {}
        body = {
            "metadata": {
                "name": name,
                "labels": dict((tpl.get("metadata") or {}).get("labels") or {}),
                "annotations": {
                    "batch.kubernetes.io/cronjob-scheduled-timestamp": due.strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    )
                },
                "ownerReferences": [_owner_ref(cj)],
            },
            "spec": json.loads(json.dumps(tpl.get("spec") or {})),
        }
        try:
            c.create(c.rt("batch", "jobs"), cj["metadata"]["namespace"], body)
            c.record_event(
                cj, "Normal", "SuccessfulCreate", f"Created job {name}", "cronjob-controller"
            )
        except ApiError as exc:
            c.record_event(cj, "Warning", "FailedCreate", exc.message, "cronjob-controller")
        status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = _owned(ctl, cj, "batch", "jobs")
    finished = sorted(
        (j for j in jobs if j not in running), key=lambda j: j["metadata"]["creationTimestamp"]
    )
    keep = spec.get("successfulJobsHistoryLimit", 3)
    for j in finished[: max(len(finished) - keep, 0)]:
        c.delete(
            c.rt("batch", "jobs"),
            j["metadata"]["namespace"],
            j["metadata"]["name"],
            propagation="Background",
        )
    active = [
        {
            "kind": "Job",
            "namespace": j["metadata"]["namespace"],
            "name": j["metadata"]["name"],
            "uid": j["metadata"]["uid"],
            "apiVersion": "batch/v1",
        }
        for j in _owned(ctl, cj, "batch", "jobs")
        if not any(
            x.get("type") in ("Complete", "Failed")
            for x in (j.get("status") or {}).get("conditions") or []
        )
    ]
    if active:
        status["active"] = active
    else:
        status.pop("active", None)
    _write_status(ctl, "batch", "cronjobs", cj, status)
