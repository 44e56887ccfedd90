"""A tenant's predefined policies: created with the tenant, brought back to their definition
when they drift, and left alone (no write, no rules-version bump) when they already match."""

from __future__ import annotations

import pytest

from apps.authz.choices import PolicyScope
from apps.authz.models import Policy
from apps.authz.predefined import PREDEFINED
from apps.authz.services import ensure_predefined_policies
from apps.tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _as_defined(spec) -> dict:
    return {
        "display_name": spec["display_name"],
        "description": spec["description"],
        "category": spec["category"],
        "scope": spec.get("scope", PolicyScope.PLATFORM),
        "statements": spec["statements"],
        "predefined": True,
    }


def _stored(tenant) -> dict:
    return {
        policy.name: {field: getattr(policy, field) for field in _as_defined(PREDEFINED[0])}
        for policy in Policy.objects.filter(tenant=tenant)
    }


def test_a_new_tenant_gets_every_predefined_policy_in_a_few_statements(
    django_assert_max_num_queries,
):
    tenant = Tenant.objects.create(slug="fresh", display_name="Fresh")
    Policy.objects.filter(tenant=tenant).delete()
    with django_assert_max_num_queries(6):
        ensure_predefined_policies(tenant)
    assert _stored(tenant) == {spec["name"]: _as_defined(spec) for spec in PREDEFINED}


def test_a_drifted_policy_is_restored_and_the_rules_version_changes(tenant):
    spec = PREDEFINED[0]
    other = PREDEFINED[1]["name"]
    Policy.objects.filter(tenant=tenant, name=spec["name"]).update(
        statements=[{"actions": ["*"], "resources": ["*"], "effect": "allow"}],
        display_name="tampered",
    )
    untouched_at = Policy.objects.get(tenant=tenant, name=other).updated_at
    version = Tenant.objects.get(pk=tenant.pk).authz_version

    ensure_predefined_policies(tenant)

    assert _stored(tenant)[spec["name"]] == _as_defined(spec)
    assert Policy.objects.get(tenant=tenant, name=other).updated_at == untouched_at
    assert Tenant.objects.get(pk=tenant.pk).authz_version != version


def test_policies_that_match_are_not_written_and_the_version_stays(tenant):
    before = dict(Policy.objects.filter(tenant=tenant).values_list("name", "updated_at"))
    version = Tenant.objects.get(pk=tenant.pk).authz_version

    ensure_predefined_policies(tenant)

    after = dict(Policy.objects.filter(tenant=tenant).values_list("name", "updated_at"))
    assert len(before) == len(PREDEFINED) and after == before
    assert Tenant.objects.get(pk=tenant.pk).authz_version == version


def test_a_custom_policy_of_a_predefined_name_becomes_the_predefined_one(tenant):
    """The name is the key, whoever made the row."""
    spec = PREDEFINED[2]
    Policy.objects.filter(tenant=tenant, name=spec["name"]).update(predefined=False)

    ensure_predefined_policies(tenant)

    assert _stored(tenant)[spec["name"]] == _as_defined(spec)
    assert Policy.objects.filter(tenant=tenant).count() == len(PREDEFINED)
