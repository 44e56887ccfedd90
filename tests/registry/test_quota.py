"""A namespace's storage quota: once its usage (the sum of its repositories' sizes, kept by
the registry's notifications) reaches the quota, the token service refuses pushes with a
message skopeo shows; pulls go on."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.registry.models import RegistryNamespace, Tag
from apps.registry.token import namespace_usage
from tests.factories import make_api_key
from tests.fixtures.registry import eventually, oci_image
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_push_over_quota_is_refused_with_the_reason_and_pull_still_works(
    registry, tenant, member, tmp_path, api
):
    # given: a namespace whose one image fills its quota exactly
    team = RegistryNamespace.objects.create(tenant=tenant, name="team")
    creds = f"acme/bob:{make_api_key(member)[1]}"
    layout = tmp_path / "image"
    oci_image(layout, "v1")
    assert registry.push(layout, "v1", registry.ref("acme/team/app"), creds).returncode == 0
    tag = eventually(lambda: Tag.objects.filter(name="v1").first(), "the pushed tag")
    assert namespace_usage(team) == tag.size > 0
    team.storage_quota_bytes = tag.size
    team.save()
    # when: another image is pushed
    other = tmp_path / "other"
    oci_image(other, "v2", content=b"another image\n")
    refused = registry.push(other, "v2", registry.ref("acme/team/app", "v2"), creds)
    # then: skopeo fails and says why
    assert refused.returncode != 0
    assert "over its storage quota" in refused.stderr, refused.stderr
    assert f"{tag.size} bytes used of {tag.size} allowed" in refused.stderr
    assert "acme/team" in refused.stderr and "denied" in refused.stderr
    assert not Tag.objects.filter(name="v2").exists()
    event = AuditEvent.objects.filter(action="getRegistryToken", status_code=401).latest("id")
    assert event.user == member and "quota" in event.message
    # pulls are not refused
    pulled = registry.pull(registry.ref("acme/team/app"), tmp_path / "pulled", "v1", creds)
    assert pulled.returncode == 0, pulled.stderr
    # the API shows the usage
    body = api(member).get("/api/v1/registry/namespaces/team/").json()
    assert body["storage_used_bytes"] == tag.size
    # one byte more of quota and the push goes through
    team.storage_quota_bytes = tag.size + 1
    team.save()
    again = registry.push(other, "v2", registry.ref("acme/team/app", "v2"), creds)
    assert again.returncode == 0, again.stderr
