"""The in-memory filesystem and environment of a simulated container, derived from its pod
(hostname, hosts, resolv.conf, service-account token, mounted ConfigMaps and Secrets, env
from the container spec). Never the host's."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

# Directories every simulated container has (in memory, never the host's).
SKELETON_DIRS = "/bin /etc /home /root /tmp /usr/bin /var/log /proc /app".split()


class FileSystem:
    """Files (path → text) and directories of one container."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.dirs: set[str] = {"/"}

    def mkdir(self, path: str) -> None:
        while path and path not in self.dirs:
            self.dirs.add(path)
            path = path.rsplit("/", 1)[0] or "/"

    def write(self, path: str, text: str, append: bool = False) -> None:
        self.mkdir(path.rsplit("/", 1)[0] or "/")
        self.files[path] = (self.files.get(path, "") if append else "") + text

    def listdir(self, path: str) -> list[str] | None:
        if path not in self.dirs:
            return None
        prefix = path.rstrip("/") + "/"
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in list(self.files) + list(self.dirs)
            if p.startswith(prefix) and p != prefix
        }
        return sorted(n for n in names if n)


@dataclass(frozen=True)
class HostAccess:
    """The node a container may enter (``nsenter -t 1``)."""

    node: str


def pod_hostname(pod: dict[str, Any]) -> str:
    """A pod's hostname: its name, or its node's for a ``hostNetwork`` pod (which shares the
    node's UTS namespace)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork") and spec.get("nodeName"):
        return spec["nodeName"]
    return pod["metadata"]["name"]


def host_of(pod: dict[str, Any], container: dict[str, Any]) -> HostAccess | None:
    """What a container may reach of its node (``nsenter -t 1``): the node's namespaces, for
    a privileged container of a ``hostPID`` pod (``kubectl debug node/…``); None otherwise."""
    spec = pod.get("spec") or {}
    privileged = bool((container.get("securityContext") or {}).get("privileged"))
    if not (privileged and spec.get("hostPID") and spec.get("nodeName")):
        return None
    return HostAccess(node=spec["nodeName"])


def container_fs(cluster: Any, pod: dict[str, Any], container: dict[str, Any]) -> FileSystem:
    """The initial filesystem of a container, derived from its pod."""
    fs = FileSystem()
    meta, spec = pod["metadata"], pod.get("spec") or {}
    ip = (pod.get("status") or {}).get("podIP", "10.244.0.10")
    # Directories of the simulated container (in memory, never the host's).
    for d in SKELETON_DIRS:
        fs.mkdir(d)
    hostname = pod_hostname(pod)
    fs.write("/etc/hostname", hostname + "\n")
    fs.write("/etc/hosts", f"127.0.0.1\tlocalhost\n{ip}\t{hostname}\n")
    fs.write(
        "/etc/resolv.conf",
        f"search {meta.get('namespace')}.svc.cluster.local "
        "svc.cluster.local cluster.local\nnameserver 10.96.0.10\n"
        "options ndots:5\n",
    )
    image = container.get("image", "")
    if "alpine" in image or "busybox" in image:
        fs.write("/etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.0\n')
    else:
        fs.write(
            "/etc/os-release",
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
            'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
        )
    fs.write("/proc/1/cmdline", " ".join(container.get("command") or [image.split(":")[0]]))
    sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    fs.write(f"{sa_dir}/namespace", meta.get("namespace", "default"))
    fs.write(f"{sa_dir}/token", "eyJhbGciOiJSUzI1NiJ9.kubesim-projected-token.c2ln")
    fs.write(
        f"{sa_dir}/ca.crt", "-----BEGIN CERTIFICATE-----\n(kubesim)\n-----END CERTIFICATE-----\n"
    )
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        path = mount.get("mountPath", "/mnt")
        fs.mkdir(path)
        if "configMap" in volume:
            cm = cluster.find(
                "", "configmaps", meta.get("namespace"), volume["configMap"].get("name", "")
            )
            for key, value in ((cm or {}).get("data") or {}).items():
                fs.write(f"{path.rstrip('/')}/{key}", value)
        elif "secret" in volume:
            secret = cluster.find(
                "", "secrets", meta.get("namespace"), volume["secret"].get("secretName", "")
            )
            for key, value in ((secret or {}).get("data") or {}).items():
                try:
                    text = base64.b64decode(value).decode()
                except (ValueError, UnicodeDecodeError):
                    text = value
                fs.write(f"{path.rstrip('/')}/{key}", text)
    return fs


def container_env(cluster: Any, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    meta = pod["metadata"]
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": pod_hostname(pod),
        "HOME": "/root",
        "TERM": "xterm",
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    }
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "value" in item:
            env[name] = str(item["value"])
            continue
        source = item.get("valueFrom") or {}
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            env[name] = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta.get("namespace", ""),
                "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "status.podIP": (pod.get("status") or {}).get("podIP", ""),
            }.get(path, "")
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = cluster.find("", "configmaps", meta.get("namespace"), ref.get("name", ""))
            env[name] = ((cm or {}).get("data") or {}).get(ref.get("key"), "")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = cluster.find("", "secrets", meta.get("namespace"), ref.get("name", ""))
            raw = ((secret or {}).get("data") or {}).get(ref.get("key"), "")
            env[name] = base64.b64decode(raw).decode(errors="replace") if raw else ""
    return env
