"""Enumerations of alarm policies and records (TKEStack's names)."""

from __future__ import annotations

import operator

from django.db import models
from django.utils.translation import gettext_lazy as _


class PolicyType(models.TextChoices):
    """What a policy watches; the catalogue level of its metrics is the same word."""

    CLUSTER = "cluster", _("Cluster")
    NODE = "node", _("Node")
    WORKLOAD = "workload", _("Workload")
    POD = "pod", _("Pod")


# Types whose policies name a namespace (and are decided in the project owning it).
NAMESPACED_TYPES = frozenset({PolicyType.WORKLOAD, PolicyType.POD})


class WorkloadKind(models.TextChoices):
    DEPLOYMENT = "Deployment", "Deployment"
    STATEFULSET = "StatefulSet", "StatefulSet"
    DAEMONSET = "DaemonSet", "DaemonSet"
    JOB = "Job", "Job"
    CRONJOB = "CronJob", "CronJob"


class ObjectsType(models.TextChoices):
    ALL = "all", _("All objects")
    PART = "part", _("Chosen objects")


class Evaluator(models.TextChoices):
    GT = "gt", ">"
    LT = "lt", "<"
    EQ = "eq", "="
    GE = "ge", ">="
    LE = "le", "<="


COMPARE = {
    Evaluator.GT: operator.gt,
    Evaluator.LT: operator.lt,
    Evaluator.EQ: lambda value, threshold: abs(value - threshold) < 1e-9,
    Evaluator.GE: operator.ge,
    Evaluator.LE: operator.le,
}


class RecordState(models.TextChoices):
    """pending: the condition holds, not yet for ``continue_periods`` periods; firing: it has
    (notices sent); resolved: it stopped holding (a firing record sent its recovery notice, a
    pending one closed silently: ``fired_at`` is empty)."""

    PENDING = "pending", _("Pending")
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")


OPEN_STATES = (RecordState.PENDING, RecordState.FIRING)


class RecordSource(models.TextChoices):
    EVALUATION = "evaluation", _("Portal evaluation")
    ALERTMANAGER = "alertmanager", _("The cluster's Alertmanager")


class NoticeKind(models.TextChoices):
    FIRING = "firing", _("Firing")
    REPEAT = "repeat", _("Still firing")
    RESOLVED = "resolved", _("Resolved")
