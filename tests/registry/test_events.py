"""``POST /registry/events``: the real registry's notifications keep repositories and tags in
sync (tests/fixtures/registry.py makes it post them to the live portal)."""

from __future__ import annotations

import json

import pytest
import requests

from apps.audit.models import AuditEvent
from apps.registry.models import RegistryEvent, RegistryNamespace, Repository, Tag
from tests.factories import make_api_key
from tests.fixtures.registry import EVENTS_SECRET, eventually, oci_image, oci_index
from tests.live import portal  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"


@pytest.fixture
def team(tenant):
    return RegistryNamespace.objects.create(tenant=tenant, name="team")


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def _events_url(registry) -> str:
    return registry.server.realm.replace("/registry/token", "/registry/events")


def _post(registry, envelope, secret=EVENTS_SECRET):
    headers = {"Content-Type": MEDIA_TYPE}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return requests.post(
        _events_url(registry),
        data=json.dumps(envelope),
        headers=headers,
        verify=registry.server.ca_file,
        timeout=20,
    )


def _tag(repository, name):
    return Tag.objects.filter(
        repository__namespace__name="team", repository__name=repository, name=name
    ).first()


def test_push_creates_the_repository_and_tag(registry, team, member, tmp_path):
    # given
    layout = tmp_path / "image"
    digest = oci_image(layout, "v1")
    _, key = make_api_key(member)
    # when
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), f"acme/bob:{key}"))
    # then
    tag = eventually(lambda: _tag("app", "v1"), "the tag row of acme/team/app:v1")
    assert tag.digest == digest
    assert tag.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert tag.architectures == ["amd64"]
    assert tag.pushed_by == member
    manifest = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
    document = json.loads(manifest)
    expected = (
        len(manifest)
        + document["config"]["size"]
        + sum(layer["size"] for layer in document["layers"])
    )
    assert tag.size == expected
    repository = tag.repository
    assert repository.push_count == 1 and repository.size == expected
    pushed = AuditEvent.objects.get(action="pushRepository")
    assert pushed.user == member and pushed.status_code == 200
    assert pushed.resource == "registrynamespace:team/repository:app/tag:v1"
    assert pushed.source_ip == "127.0.0.1" and digest in pushed.message


def test_pull_counts_and_is_audited(registry, team, member, tmp_path):
    layout = tmp_path / "image"
    digest = oci_image(layout, "v1")
    creds = f"acme/bob:{make_api_key(member)[1]}"
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    eventually(lambda: _tag("app", "v1"), "the pushed tag")
    # the portal's own reads of the manifest (to learn its size) are not pulls
    assert Repository.objects.get(name="app").pull_count == 0
    _ok(registry.pull(registry.ref("acme/team/app"), tmp_path / "pulled", "v1", creds))
    eventually(lambda: Repository.objects.get(name="app").pull_count == 1, "pull_count to become 1")
    pulled = eventually(
        lambda: AuditEvent.objects.filter(action="pullRepository").first(), "the pull's audit"
    )
    assert pulled.user == member and digest in pulled.message
    assert pulled.resource == "registrynamespace:team/repository:app/tag:v1"


def _push_event(registry, event_id, digest, tag="v2", actor="acme/bob"):
    return {
        "id": event_id,
        "timestamp": "2026-12-01T10:00:00Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 400,
            "digest": digest,
            "length": 400,
            "repository": "acme/team/app",
            "url": f"{registry.server.url}/v2/acme/team/app/manifests/{digest}",
            "tag": tag,
        },
        "request": {
            "id": "r1",
            "addr": "10.1.2.3:5555",
            "host": registry.server.host,
            "method": "PUT",
            "useragent": "test",
        },
        "actor": {"name": actor},
        "source": {"addr": "registry:5000", "instanceID": "x"},
    }


def test_a_redelivered_envelope_does_not_count_twice(registry, team, member, tmp_path):
    layout = tmp_path / "image"
    digest = oci_image(layout, "v1")
    creds = f"acme/bob:{make_api_key(member)[1]}"
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    eventually(lambda: _tag("app", "v1"), "the pushed tag")
    envelope = {"events": [_push_event(registry, "evt-redelivered-1", digest)]}
    # when: the registry delivers the same envelope twice (it retries until acknowledged)
    first = _post(registry, envelope)
    second = _post(registry, envelope)
    # then
    assert first.status_code == 200 and first.json()["applied"] == 1, first.text
    assert second.status_code == 200 and second.json() == {
        "applied": 0,
        "duplicates": 1,
        "ignored": 0,
    }
    repository = Repository.objects.get(name="app")
    assert repository.push_count == 2  # skopeo's push, then the envelope once
    v2 = _tag("app", "v2")
    assert v2.digest == digest and v2.architectures == ["amd64"] and v2.pushed_by == member
    # two tags of one digest: the repository counts the image once
    assert repository.size == v2.size == _tag("app", "v1").size
    audited = AuditEvent.objects.filter(action="pushRepository", message__contains=":v2@")
    assert audited.count() == 1 and audited.get().source_ip == "10.1.2.3"
    assert RegistryEvent.objects.filter(event_id="evt-redelivered-1").count() == 1


def test_a_bad_secret_is_401_and_changes_nothing(registry, team):
    digest = "sha256:" + "a" * 64
    envelope = {"events": [_push_event(registry, "evt-bad-secret", digest)]}
    for secret in ("wrong", None, EVENTS_SECRET + "x", ""):
        answer = _post(registry, envelope, secret=secret)
        assert answer.status_code == 401, answer.text
        assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert not Repository.objects.exists() and not Tag.objects.exists()
    assert not RegistryEvent.objects.exists()
    refused = AuditEvent.objects.filter(action="receiveRegistryEvents")
    assert refused.count() == 4 and {e.status_code for e in refused} == {401}
    assert not AuditEvent.objects.filter(action="pushRepository").exists()


def test_foreign_and_malformed_events_are_ignored(registry, team):
    digest = "sha256:" + "b" * 64
    unknown_ns = _push_event(registry, "e1", digest)
    unknown_ns["target"]["repository"] = "acme/nosuch/app"
    short = _push_event(registry, "e2", digest)
    short["target"]["repository"] = "app"
    traversal = _push_event(registry, "e3", digest)
    traversal["target"]["repository"] = "acme/team/../x"
    blob = _push_event(registry, "e4", digest)
    blob["target"]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    envelope = {"events": [unknown_ns, short, traversal, blob, "junk", {"id": 3}]}
    answer = _post(registry, envelope)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"applied": 0, "duplicates": 0, "ignored": 6}
    assert not Repository.objects.exists()
    for body in ("[]", "{}", "not json"):
        bad = requests.post(
            _events_url(registry),
            data=body,
            headers={"Authorization": f"Bearer {EVENTS_SECRET}"},
            verify=registry.server.ca_file,
            timeout=10,
        )
        assert bad.status_code == 400, bad.text


def test_an_unreadable_manifest_keeps_what_the_event_said(registry, team, member):
    """The registry does not have the manifest (or cannot be read): the tag still appears."""
    digest = "sha256:" + "c" * 64
    answer = _post(registry, {"events": [_push_event(registry, "e5", digest)]})
    assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
    tag = _tag("app", "v2")
    assert tag.digest == digest and tag.size == 400 and tag.architectures == []
    assert tag.pushed_by == member


def test_a_multi_arch_index_lists_its_architectures(registry, team, member, tmp_path):
    layout = tmp_path / "index"
    digest = oci_index(layout, "multi")
    creds = f"acme/bob:{make_api_key(member)[1]}"
    result = registry.run(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        f"oci:{layout}:multi",
        f"docker://{registry.ref('acme/team/tools/builder', 'multi')}",
    )
    _ok(result)
    tag = eventually(lambda: _tag("tools/builder", "multi"), "the index's tag")
    assert tag.digest == digest
    assert tag.media_type == "application/vnd.oci.image.index.v1+json"
    assert tag.architectures == ["amd64", "arm64"]
    blobs = layout / "blobs" / "sha256"
    index = json.loads((blobs / digest.split(":")[1]).read_bytes())
    expected = (blobs / digest.split(":")[1]).stat().st_size
    for child in index["manifests"]:
        manifest = json.loads((blobs / child["digest"].split(":")[1]).read_bytes())
        expected += child["size"] + manifest["config"]["size"]
        expected += sum(layer["size"] for layer in manifest["layers"])
    assert tag.size == expected
    # the child manifests pushed by digest made no tags
    assert list(Tag.objects.values_list("name", flat=True)) == ["multi"]


def test_a_manifest_delete_event_removes_its_tags(registry, team, member, tmp_path):
    """A user deleting a manifest through the registry API: distribution sends the digest
    (no tag); every tag naming it goes, the delete is audited as that user."""
    layout = tmp_path / "image"
    digest = oci_image(layout, "v1")
    creds = f"acme/bob:{make_api_key(member)[1]}"
    _ok(registry.push(layout, "v1", registry.ref("acme/team/app"), creds))
    eventually(lambda: _tag("app", "v1"), "the pushed tag")
    _ok(
        registry.run(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            creds,
            "--dest-creds",
            creds,
            f"docker://{registry.ref('acme/team/app', 'v1')}",
            f"docker://{registry.ref('acme/team/app', 'latest')}",
        )
    )
    eventually(lambda: _tag("app", "latest"), "the second tag")
    # when: skopeo deletes the manifest (a DELETE by digest in the registry API)
    _ok(
        registry.run(
            "delete",
            "--tls-verify=false",
            "--creds",
            creds,
            f"docker://{registry.ref('acme/team/app', 'v1')}",
        )
    )
    # then
    eventually(lambda: not Tag.objects.exists(), "the tags of the deleted digest to go")
    assert Repository.objects.get(name="app").size == 0
    deleted = eventually(
        lambda: AuditEvent.objects.filter(action="deleteTag").first(), "the delete's audit"
    )
    assert deleted.user == member and deleted.resource.endswith(f"repository:app@{digest}")
    assert "latest, v1" in deleted.message and deleted.source_ip == "127.0.0.1"
    # a delete naming no known tag (a blob's, or an untagged manifest's) is ignored
    blob = {
        "id": "evt-blob-delete",
        "action": "delete",
        "target": {"repository": "acme/team/app", "digest": "sha256:" + "d" * 64},
        "actor": {"name": "acme/bob"},
    }
    assert _post(registry, {"events": [blob]}).json()["ignored"] == 1


def test_seen_event_ids_are_purged_after_the_retention(registry, team, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.registry.events import purge_seen

    settings.REGISTRY_EVENTS_RETENTION = 3600
    old = RegistryEvent.objects.create(event_id="old", action="push")
    RegistryEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(seconds=3601)
    )
    RegistryEvent.objects.create(event_id="new", action="push")
    assert purge_seen() == 1
    assert list(RegistryEvent.objects.values_list("event_id", flat=True)) == ["new"]
