"""Pod Security admission (the ``PodSecurity`` plugin every API server runs since 1.25).

A namespace chooses its Pod Security Standard level per mode with labels:
``pod-security.kubernetes.io/enforce`` (refuse the pod), ``…/warn`` (a ``Warning`` header),
``…/audit`` (an audit annotation — the simulator keeps no audit log, so it is parsed and
ignored), each with an optional ``…-version`` (``latest`` or ``v1.N``). Levels are
``privileged`` (no checks), ``baseline`` and ``restricted`` (baseline plus its own checks).
No label: privileged, the API server's default.

What is checked, as upstream does it (k8s.io/pod-security-admission ``policy/check_*.go``):
- Pods are checked on create and on updates that change containers or add ephemeral containers
  (``kubectl debug`` adds one through ``pods/ephemeralcontainers``); refused in *enforce*
  with ``pods "x" is forbidden: violates PodSecurity "baseline:latest": <reason> (<detail>), …``.
- Pod templates of workload kinds (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
  CronJob, ReplicationController, PodTemplate) are only *warned* about; their controllers'
  pod creations are then refused and recorded as ``FailedCreate`` events, as on a real cluster.
- Reasons are listed baseline checks first, then restricted ones, each group in the order of
  the upstream check ids; a restricted check replaces the baseline check it overrides
  (capabilities, seccomp, hostPath volumes, procMount).

The simulator judges every version by the latest rules (a ``-version`` label is echoed in the
message, ``baseline:v1.30``, but older rule sets are not kept).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import forbidden

PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
TEMPLATE_KINDS = {
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
    ("", "ReplicationController"): ("spec", "template"),
    ("", "PodTemplate"): ("template",),
}

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)
_RESTRICTED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)

Result = tuple[str, str] | None  # (reason, detail) when the check forbids the pod


# -- helpers (upstream's joinQuote / pluralize) -------------------------------------------------
def _quote(items: Iterable[str]) -> str:
    items = list(items)
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _containers(spec: dict) -> list[dict]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out.extend(c for c in spec.get(key) or [] if isinstance(c, dict))
    return out


def _sc(container: dict) -> dict:
    return container.get("securityContext") or {}


def _pod_sc(spec: dict) -> dict:
    return spec.get("securityContext") or {}


def _user_namespace(spec: dict) -> bool:
    return spec.get("hostUsers") is False


def _containers_phrase(names: list[str]) -> str:
    return f"{_plural('container', 'containers', len(names))} {_quote(names)}"


# -- baseline -----------------------------------------------------------------------------------
def _app_armor(meta: dict, spec: dict) -> Result:
    bad_values: set[str] = set()
    setters: list[str] = []

    def bad(profile: dict | None) -> bool:
        if not profile:
            return False
        kind = profile.get("type")
        if kind in ("RuntimeDefault", "Localhost"):
            return False
        bad_values.add(str(kind))
        return True

    if bad(_pod_sc(spec).get("appArmorProfile")):
        setters.append("pod")
    containers = [c["name"] for c in _containers(spec) if bad(_sc(c).get("appArmorProfile"))]
    if containers:
        setters.append(_containers_phrase(containers))
    annotations = []
    for key, value in sorted((meta.get("annotations") or {}).items()):
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if value != "runtime/default" and not str(value).startswith("localhost/"):
                annotations.append(f'{key}="{value}"')
    if not setters and not annotations:
        return None
    details = []
    if setters:
        details.append(
            f"{' and '.join(setters)} must not set appArmorProfile.type to "
            f"{_quote(sorted(bad_values))}"
        )
    if annotations:
        details.append(
            f"{_plural('annotation', 'annotations', len(annotations))} {', '.join(annotations)}"
        )
    count = len(setters) + len(annotations)
    return (
        _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", count),
        "; ".join(details),
    )


def _capabilities_baseline(meta: dict, spec: dict) -> Result:
    bad_containers, caps = [], set()
    for c in _containers(spec):
        added = [str(x) for x in ((_sc(c).get("capabilities") or {}).get("add") or [])]
        extra = [x for x in added if x not in _BASELINE_CAPABILITIES]
        if extra:
            bad_containers.append(c["name"])
            caps.update(extra)
    if not bad_containers:
        return None
    return (
        "non-default capabilities",
        f"{_containers_phrase(bad_containers)} must not include {_quote(sorted(caps))} in "
        "securityContext.capabilities.add",
    )


def _host_namespaces(meta: dict, spec: dict) -> Result:
    used = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(meta: dict, spec: dict) -> Result:
    names = [v.get("name", "") for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if not names:
        return None
    return ("hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_quote(names)}")


def _host_ports(meta: dict, spec: dict) -> Result:
    bad_containers, ports = [], set()
    for c in _containers(spec):
        used = [int(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if used:
            bad_containers.append(c["name"])
            ports.update(str(p) for p in used)
    if not bad_containers:
        return None
    n = len(bad_containers)
    return (
        "hostPort",
        f"{_containers_phrase(bad_containers)} {_plural('uses', 'use', n)} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def _host_probes(meta: dict, spec: dict) -> Result:
    bad_containers, hosts = set(), set()
    for c in _containers(spec):
        handlers = [c.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = c.get("lifecycle") or {}
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        for handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host")
                if host not in (None, "", "localhost", "127.0.0.1", "::1"):
                    bad_containers.add(c["name"])
                    hosts.add(host)
    if not bad_containers:
        return None
    n = len(bad_containers)
    return (
        "probe or lifecycle host",
        f"{_containers_phrase(sorted(bad_containers))} {_plural('uses', 'use', n)} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_quote(sorted(hosts))}",
    )


def _privileged(meta: dict, spec: dict) -> Result:
    names = [c["name"] for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not names:
        return None
    return (
        "privileged",
        f"{_containers_phrase(names)} must not set securityContext.privileged=true",
    )


def _unmasked_proc(spec: dict) -> Result:
    bad, values = [], set()
    for c in _containers(spec):
        mount = _sc(c).get("procMount")
        if mount not in (None, "", "Default"):
            bad.append(c["name"])
            values.add(mount)
    if not bad:
        return None
    return (
        "procMount",
        f"{_containers_phrase(bad)} must not set securityContext.procMount to "
        f"{_quote(sorted(values))}",
    )


def _proc_mount(meta: dict, spec: dict) -> Result:
    """Baseline: any procMount inside a user namespace (hostUsers: false), else Default."""
    return None if _user_namespace(spec) else _unmasked_proc(spec)


def _selinux(meta: dict, spec: dict) -> Result:
    setters, bad_types, bad_user, bad_role = [], set(), False, False

    def judge(options: dict | None) -> bool:
        nonlocal bad_user, bad_role
        if not options:
            return False
        wrong = False
        if options.get("type", "") not in _SELINUX_TYPES:
            bad_types.add(options["type"])
            wrong = True
        if options.get("user"):
            bad_user = wrong = True
        if options.get("role"):
            bad_role = wrong = True
        return wrong

    if judge(_pod_sc(spec).get("seLinuxOptions")):
        setters.append("pod")
    names = [c["name"] for c in _containers(spec) if judge(_sc(c).get("seLinuxOptions"))]
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    data = []
    if bad_types:
        data.append(f"{_plural('type', 'types', len(bad_types))} {_quote(sorted(bad_types))}")
    if bad_user:
        data.append("user may not be set")
    if bad_role:
        data.append("role may not be set")
    return (
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def _seccomp(spec: dict, require: bool) -> Result:
    setters, values = [], set()
    pod_profile = _pod_sc(spec).get("seccompProfile")
    pod_set = False
    if pod_profile:
        if pod_profile.get("type") in ("RuntimeDefault", "Localhost"):
            pod_set = True
        else:
            setters.append("pod")
            values.add(str(pod_profile.get("type")))
    explicit, implicit = [], []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if profile:
            if profile.get("type") not in ("RuntimeDefault", "Localhost"):
                explicit.append(c["name"])
                values.add(str(profile.get("type")))
        elif not pod_set:
            implicit.append(c["name"])
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return (
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_quote(sorted(values))}",
        )
    if require and implicit:
        return (
            "seccompProfile",
            f"pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


def _seccomp_baseline(meta: dict, spec: dict) -> Result:
    return _seccomp(spec, require=False)


def _sysctls(meta: dict, spec: dict) -> Result:
    names = [
        str(s.get("name"))
        for s in (_pod_sc(spec).get("sysctls") or [])
        if s.get("name") not in _SAFE_SYSCTLS
    ]
    return ("forbidden sysctls", ", ".join(names)) if names else None


def _windows_host_process(meta: dict, spec: dict) -> Result:
    setters = []
    if (_pod_sc(spec).get("windowsOptions") or {}).get("hostProcess") is True:
        setters.append("pod")
    names = [
        c["name"]
        for c in _containers(spec)
        if (_sc(c).get("windowsOptions") or {}).get("hostProcess") is True
    ]
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    return (
        "hostProcess",
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
    )


# -- restricted ---------------------------------------------------------------------------------
def _windows(spec: dict) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


def _allow_privilege_escalation(meta: dict, spec: dict) -> Result:
    if _windows(spec):
        return None
    names = [
        c["name"] for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not names:
        return None
    return (
        "allowPrivilegeEscalation != false",
        f"{_containers_phrase(names)} must set securityContext.allowPrivilegeEscalation=false",
    )


def _capabilities_restricted(meta: dict, spec: dict) -> Result:
    if _windows(spec):
        return None
    missing_drop, adding, caps = [], [], set()
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities")
        if capabilities is None:
            missing_drop.append(c["name"])
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop.append(c["name"])
        extra = [str(x) for x in capabilities.get("add") or [] if x != "NET_BIND_SERVICE"]
        if extra:
            adding.append(c["name"])
            caps.update(extra)
    details = []
    if missing_drop:
        details.append(
            f'{_containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_containers_phrase(adding)} must not include {_quote(sorted(caps))} in "
            "securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _proc_mount_restricted(meta: dict, spec: dict) -> Result:
    """Restricted: Default, user namespace or not."""
    return _unmasked_proc(spec)


def _restricted_volumes(meta: dict, spec: dict) -> Result:
    bad, kinds = [], set()
    for volume in spec.get("volumes") or []:
        sources = [k for k in volume if k != "name"]
        if any(k in _RESTRICTED_VOLUME_SOURCES for k in sources):
            continue
        bad.append(volume.get("name", ""))
        kinds.add(sources[0] if sources else "unknown")
    if not bad:
        return None
    n = len(bad)
    return (
        "restricted volume types",
        f"{_plural('volume', 'volumes', n)} {_quote(bad)} {_plural('uses', 'use', n)} "
        f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_quote(sorted(kinds))}",
    )


def _run_as_non_root(meta: dict, spec: dict) -> Result:
    if _user_namespace(spec):
        return None
    setters = []
    pod_value = _pod_sc(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c["name"])
        elif value is None and pod_value is not True:
            implicit.append(c["name"])
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return (
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return (
            "runAsNonRoot != true",
            f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def _run_as_user(meta: dict, spec: dict) -> Result:
    if _user_namespace(spec):
        return None
    setters = ["pod"] if _pod_sc(spec).get("runAsUser") == 0 else []
    names = [c["name"] for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if names:
        setters.append(_containers_phrase(names))
    if not setters:
        return None
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")


def _seccomp_restricted(meta: dict, spec: dict) -> Result:
    if _windows(spec):
        return None
    return _seccomp(spec, require=True)


Check = Callable[[dict, dict], Result]
# (id, check), in upstream's order: ids sorted, baseline first.
BASELINE: list[tuple[str, Check]] = [
    ("appArmorProfile", _app_armor),
    ("capabilities_baseline", _capabilities_baseline),
    ("hostNamespaces", _host_namespaces),
    ("hostPathVolumes", _host_path_volumes),
    ("hostPorts", _host_ports),
    ("hostProbesAndHostLifecycle", _host_probes),
    ("privileged", _privileged),
    ("procMount", _proc_mount),
    ("seLinuxOptions", _selinux),
    ("seccompProfile_baseline", _seccomp_baseline),
    ("sysctls", _sysctls),
    ("windowsHostProcess", _windows_host_process),
]
RESTRICTED: list[tuple[str, Check]] = [
    ("allowPrivilegeEscalation", _allow_privilege_escalation),
    ("capabilities_restricted", _capabilities_restricted),
    ("procMount_restricted", _proc_mount_restricted),
    ("restrictedVolumes", _restricted_volumes),
    ("runAsNonRoot", _run_as_non_root),
    ("runAsUser", _run_as_user),
    ("seccompProfile_restricted", _seccomp_restricted),
]
OVERRIDES = {
    "capabilities_restricted": "capabilities_baseline",
    "seccompProfile_restricted": "seccompProfile_baseline",
    "restrictedVolumes": "hostPathVolumes",
    "procMount_restricted": "procMount",
}


def evaluate(level: str, meta: dict, spec: dict) -> list[tuple[str, str]]:
    """The (reason, detail) of every check ``level`` fails, in upstream's order."""
    if level == "privileged":
        return []
    checks = list(BASELINE)
    if level == "restricted":
        overridden = set(OVERRIDES.values())
        checks = [c for c in checks if c[0] not in overridden] + RESTRICTED
    return [result for _id, check in checks if (result := check(meta or {}, spec or {}))]


def describe(results: list[tuple[str, str]]) -> str:
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in results)


def policy(labels: dict | None) -> dict[str, str]:
    """mode → ``level:version`` from a namespace's labels (enforce fails closed on a bad level,
    warn and audit fail open; warn defaults to a stricter enforce level)."""
    labels = labels or {}
    out = {}
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(PREFIX + mode)
        if level is None:
            out[mode] = "privileged"
        elif level in LEVELS:
            out[mode] = level
        else:
            out[mode] = "restricted" if mode == "enforce" else "privileged"
        out[mode + "-version"] = labels.get(f"{PREFIX}{mode}-version") or "latest"
    if PREFIX + "warn" not in labels and PREFIX + "enforce" in labels:
        if LEVELS.index(out["enforce"]) > LEVELS.index(out["warn"]):
            out["warn"] = out["enforce"]
            if f"{PREFIX}warn-version" not in labels:
                out["warn-version"] = out["enforce-version"]
    return out


def _namespace_policy(cluster, namespace: str) -> dict[str, str]:
    ns = cluster.store.get(cluster.rt("", "namespaces"), "", namespace)
    return policy((ns.obj.get("metadata") or {}).get("labels") if ns is not None else None)


def _template(obj: dict, path: tuple[str, ...]) -> dict | None:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def admit(
    cluster, rt, namespace: str, obj: dict, warnings: list[str] | None, old: dict | None = None
) -> None:
    """Judge a pod (enforce and warn) or a workload's pod template (warn) being written to
    ``namespace``; raise the API server's 403 or append its warning."""
    if rt.custom or not namespace:
        return
    if rt.key == ("", "pods"):
        if old is not None and not _significant(obj, old):
            return
        modes = _namespace_policy(cluster, namespace)
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        failed = evaluate(modes["enforce"], meta, spec)
        if failed:
            label = f"{modes['enforce']}:{modes['enforce-version']}"
            raise forbidden(
                rt.group,
                rt.plural,
                meta.get("name", ""),
                f"violates PodSecurity {_go_quote(label)}: {describe(failed)}",
            )
        _warn(modes, meta, spec, warnings)
        return
    path = TEMPLATE_KINDS.get((rt.group, rt.kind))
    if path is None:
        return
    template = _template(obj, path)
    if template is None:
        return
    modes = _namespace_policy(cluster, namespace)
    _warn(modes, template.get("metadata") or {}, template.get("spec") or {}, warnings)


def _warn(modes: dict, meta: dict, spec: dict, warnings: list[str] | None) -> None:
    if warnings is None:
        return
    failed = evaluate(modes["warn"], meta, spec)
    if failed:
        label = f"{modes['warn']}:{modes['warn-version']}"
        warnings.append(f"would violate PodSecurity {_go_quote(label)}: {describe(failed)}")


def _significant(new: dict, old: dict) -> bool:
    """Upstream's isSignificantPodUpdate: containers added or their images/security changed,
    ephemeral containers added."""
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        a, b = ns.get(key) or [], os_.get(key) or []
        if len(a) != len(b):
            return True
        if any(
            x.get("image") != y.get("image") or x.get("securityContext") != y.get("securityContext")
            for x, y in zip(a, b, strict=True)
        ):
            return True
    old_ephemeral = {c.get("name"): c for c in os_.get("ephemeralContainers") or []}
    for c in ns.get("ephemeralContainers") or []:
        before = old_ephemeral.get(c.get("name"))
        if (
            before is None
            or before.get("image") != c.get("image")
            or before.get("securityContext") != c.get("securityContext")
        ):
            return True
    return False


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
