"""The test suite's PostgreSQL backend (tests/postgresql): its flush, run after every
transactional test, leaves what Django's TRUNCATE leaves — every table empty, sequences not
reset — and the test database's sessions do not wait for commits to reach the disk."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_flush_empties_every_table_and_keeps_sequences(tenant, other_tenant):
    from apps.tenants.models import Tenant

    assert connection.ops.__class__.__module__ == "tests.postgresql.base"
    last_id = Tenant.objects.order_by("-pk").first().pk
    # as TransactionTestCase calls it after each test
    call_command(
        "flush", interactive=False, verbosity=0, reset_sequences=False, inhibit_post_migrate=True
    )
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            assert not model.objects.exists(), model._meta.label
    assert Tenant.objects.create(display_name="after", slug="after").pk > last_id


@pytest.mark.django_db
def test_commits_do_not_wait_for_the_disk():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
