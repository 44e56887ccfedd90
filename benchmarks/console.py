"""Console benchmark: server-side render times of the console's pages (Django test client,
a signed-in tenant administrator, kubesim in a thread), one part per area.

Each module ``benchmarks/console_parts/<part>.py`` exposes ``measure(env) -> dict`` and adds
its figures (named ``<page>_p50_ms`` / ``<page>_p99_ms`` …) to ``benchmarks/results/console.json``.
``env`` carries the tenant, its administrator, a logged-in ``client`` and the running ``sim``
(:class:`apps.sandbox.kubesim.KubeSim`); a part makes its own clusters and data.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

from benchmarks.support.testdb import test_database


def run() -> dict:
    with test_database():
        from django.test import Client

        from apps.accounts.models import User
        from apps.authz.services import ensure_predefined_policies, make_administrator
        from apps.sandbox.kubesim import KubeSim
        from apps.tenants.models import Tenant

        tenant = Tenant.objects.create(slug="bench", display_name="Bench")
        ensure_predefined_policies(tenant)
        admin = User.objects.create(tenant=tenant, username="admin")
        make_administrator(actor=None, user=admin, admin=True)
        client = Client()
        client.force_login(admin)
        sim = KubeSim().start_in_thread()
        env = SimpleNamespace(tenant=tenant, admin=admin, client=client, sim=sim)
        figures: dict = {}
        try:
            import benchmarks.console_parts as parts

            for info in sorted(pkgutil.iter_modules(parts.__path__), key=lambda i: i.name):
                module = importlib.import_module(f"{parts.__name__}.{info.name}")
                figures.update(module.measure(env))
        finally:
            sim.stop()
        return figures
