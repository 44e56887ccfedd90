"""kubesim: a Kubernetes API simulator for tests and the demo.

Runs without Django (aiohttp + stdlib + PyYAML + kubernetes-validate)::

    from apps.sandbox.kubesim import KubeSim
    sim = KubeSim().start_in_thread()
    prod = sim.add_cluster("prod", nodes=3, seed=True, controller=True)
    prod.url, prod.token, prod.kubeconfig("kubeconfig.yaml")
    prod.faults.fail(503, path="/pods", times=1)
"""

from .server import ClusterHandle, KubeSim, kubeconfig_for

__all__ = ["ClusterHandle", "KubeSim", "kubeconfig_for"]
