"""The token service without a registry: the key id, the signed token's claims, what each
persona is granted (requested ∩ permitted), the refusals in the registry's error shape, and
the audit trail of token requests."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from apps.accounts.models import APIKey
from apps.audit.models import AuditEvent
from apps.registry.choices import Visibility
from apps.registry.models import RegistryNamespace
from apps.registry.token import Scope, grant, libtrust_kid, parse_scopes, signing_key
from tests.conftest import persona
from tests.factories import make_api_key, make_cluster

pytestmark = pytest.mark.django_db

URL = "/registry/token"
SERVICE = "tke-registry"


def _manual_base32(data: bytes) -> str:
    """RFC 4648 base32 written out bit by bit (not base64.b32encode)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    bits = "".join(f"{byte:08b}" for byte in data)
    return "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def test_kid_matches_an_independent_computation(tmp_path):
    """libtrust's key id: the DER public key as openssl writes it, SHA-256, first 240 bits,
    base32, groups of four joined by ':'."""
    key = signing_key()
    cert = tmp_path / "cert.pem"
    cert.write_text(key.certificate)
    pem = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
        capture_output=True,
        check=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, capture_output=True, check=True
    ).stdout
    encoded = _manual_base32(hashlib.sha256(der).digest()[:30])
    expected = ":".join(encoded[i : i + 4] for i in range(0, 48, 4))
    assert len(expected.split(":")) == 12
    assert key.kid == expected
    from cryptography import x509

    assert libtrust_kid(x509.load_pem_x509_certificate(cert.read_bytes()).public_key()) == expected


def test_the_key_is_made_once_and_stored_encrypted():
    from django.db import connection

    first = signing_key()
    assert signing_key().pk == first.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key FROM registry_signingkey WHERE id = %s", [first.pk])
        stored = cursor.fetchone()[0]
    assert "PRIVATE KEY" in first.private_key
    assert "PRIVATE KEY" not in stored


def test_parse_scopes():
    scopes = parse_scopes(
        ["repository:acme/team/app:pull,push registry:catalog:*", "repository:bad", ""]
    )
    assert [s.as_claim() for s in scopes] == [
        {"type": "repository", "name": "acme/team/app", "actions": ["pull", "push"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]
    # a name with a port (a host-qualified name) keeps its colon
    (scope,) = parse_scopes(["repository:host:5000/a/b:pull"])
    assert (scope.name, scope.actions) == ("host:5000/a/b", ["pull"])


@pytest.fixture
def namespaces(tenant, other_tenant):
    return {
        "private": RegistryNamespace.objects.create(tenant=tenant, name="team"),
        "public": RegistryNamespace.objects.create(
            tenant=tenant, name="pub", visibility=Visibility.PUBLIC
        ),
        "theirs": RegistryNamespace.objects.create(tenant=other_tenant, name="team"),
    }


def _scope(name, actions="pull,push,delete"):
    return Scope("repository", name, actions.split(","))


def test_grants_are_requested_and_permitted(
    namespaces, member, viewer, other_user, tenant_admin, read_only_user, platform_admin
):
    everything = ["pull", "push", "delete"]
    # member: platform-user holds the registry area
    assert grant(member, _scope("acme/team/app")) == everything
    assert grant(member, _scope("acme/team/app", "pull")) == ["pull"]  # never more than asked
    assert grant(member, _scope("acme/team/app", "*")) == everything
    # the other tenant's namespace of the same name is theirs, not ours
    assert grant(member, _scope("globex/team/app")) == []
    assert grant(other_user, _scope("globex/team/app")) == everything
    assert grant(other_user, _scope("acme/team/app")) == []
    # public: anyone pulls, nobody else pushes
    assert grant(None, _scope("acme/pub/app")) == ["pull"]
    assert grant(other_user, _scope("acme/pub/app")) == ["pull"]
    assert grant(viewer, _scope("acme/pub/app")) == ["pull"]
    # private: nothing for the anonymous, the login-only viewer, the read-only user
    assert grant(None, _scope("acme/team/app")) == []
    assert grant(viewer, _scope("acme/team/app")) == []
    assert grant(read_only_user, _scope("acme/team/app")) == []
    # unknown namespace, malformed names, unknown actions
    assert grant(member, _scope("acme/nope/app")) == []
    assert grant(member, _scope("team/app")) == []
    assert grant(member, _scope("acme/team/app", "pull,frobnicate")) == ["pull"]
    # the catalog lists every tenant: the platform administrator's only
    catalog = Scope("registry", "catalog", ["*"])
    assert grant(platform_admin, catalog) == ["*"]
    assert grant(tenant_admin, catalog) == []
    assert grant(None, catalog) == []
    assert grant(platform_admin, _scope("acme/team/app")) == everything


@pytest.mark.parametrize(
    "name",
    [
        "acme/team/../other/app",  # path walking
        "acme/team/app/..",
        "acme/team//app",  # empty component
        "acme/team/App",  # not lowercase
        "acme/team/app:tag",  # a tag is not part of the name
        "acme/team/app%2fx",  # encoded separator
        "acme/team/" + "a" * 300,  # longer than the registry takes
        "acme/team/app\n",
    ],
)
def test_a_name_outside_dockers_grammar_is_granted_nothing(namespaces, member, name):
    """A hostile name never reaches the permission layer as some other resource: the
    member holds every action on acme/team, yet gets nothing for these."""
    assert grant(member, _scope("acme/team/app")) == ["pull", "push", "delete"]
    assert grant(member, _scope(name)) == []


def test_nested_repository_names_are_valid(namespaces, member):
    assert grant(member, _scope("acme/team/app/sub.v2__x-y")) == ["pull", "push", "delete"]


def test_a_project_namespace_is_reached_through_the_project(tenant, namespaces):
    from apps.projects.models import Project

    project = Project.objects.create(tenant=tenant, name="prj-test", display_name="Test")
    pete = persona(tenant, "pete", "project-member", "prj-test")
    quinn = persona(tenant, "quinn", "project-viewer", "prj-test")
    assert grant(pete, _scope("acme/team/app")) == []
    RegistryNamespace.objects.filter(pk=namespaces["private"].pk).update(project=project)
    assert grant(pete, _scope("acme/team/app")) == ["pull", "push", "delete"]
    assert grant(quinn, _scope("acme/team/app")) == []


def _basic(login: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


def _verify(token: str) -> dict:
    key = signing_key()
    from cryptography import x509

    public = x509.load_pem_x509_certificate(key.certificate.encode()).public_key()
    header = jwt.get_unverified_header(token)
    assert header["kid"] == key.kid and header["alg"] == "ES256"
    return jwt.decode(token, public, algorithms=["ES256"], audience=SERVICE, issuer="tke-portal")


def test_token_claims(client, namespaces, member, settings):
    settings.REGISTRY_TOKEN_TTL = 120
    _, secret = make_api_key(member)
    response = client.get(
        URL,
        {
            "service": SERVICE,
            "scope": ["repository:acme/team/app:pull,push", "repository:globex/team/app:pull"],
        },
        HTTP_AUTHORIZATION=_basic("acme/bob", secret),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 120
    claims = _verify(body["token"])
    assert claims["sub"] == "acme/bob"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["access"] == [
        {"type": "repository", "name": "acme/team/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "globex/team/app", "actions": []},
    ]
    event = AuditEvent.objects.filter(action="getRegistryToken").latest("id")
    assert event.user == member and event.status_code == 200
    assert "acme/team/app:pull,push" in event.message
    assert secret not in str(event.__dict__)


def test_anonymous_token_pulls_public_only(client, namespaces):
    response = client.get(
        URL,
        {
            "service": SERVICE,
            "scope": "repository:acme/pub/app:pull,push repository:acme/team/x:pull",
        },
    )
    assert response.status_code == 200
    claims = _verify(response.json()["token"])
    assert claims["sub"] == ""
    assert [a["actions"] for a in claims["access"]] == [["pull"], []]


def _assert_unauthorized(response, words: str):
    assert response.status_code == 401, response.content
    errors = response.json()["errors"]
    assert errors[0]["code"] == "UNAUTHORIZED"
    assert words in errors[0]["message"]
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_refusals(client, namespaces, member, tenant_admin):
    key, secret = make_api_key(member)
    params = {"service": SERVICE, "scope": "repository:acme/team/app:pull"}
    # wrong secret, someone else's name with my key, the tenant left out
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("acme/bob", "tkp_x")), "Invalid"
    )
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("acme/alice", secret)), "Invalid"
    )
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("bob", secret)), "Invalid"
    )
    _assert_unauthorized(client.get(URL, params, HTTP_AUTHORIZATION="Bearer " + secret), "Basic")
    # disabled and expired keys, a disabled user: refused at the next token request
    APIKey.objects.filter(pk=key.pk).update(disabled=True)
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("acme/bob", secret)), "disabled"
    )
    APIKey.objects.filter(pk=key.pk).update(
        disabled=False, expires_at=timezone.now() - timedelta(seconds=1)
    )
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("acme/bob", secret)), "expired"
    )
    _, fresh = make_api_key(member)
    member.is_active = False
    member.save(update_fields=["is_active"])
    _assert_unauthorized(
        client.get(URL, params, HTTP_AUTHORIZATION=_basic("acme/bob", fresh)), "disabled"
    )
    denied = AuditEvent.objects.filter(action="getRegistryToken", status_code=401)
    assert denied.count() == 7
    assert denied.filter(username="acme/bob", outcome="denied").exists()


def test_kubeconfig_keys_and_unknown_services_are_refused(client, namespaces, tenant_admin, tenant):
    from apps.accounts import services as account_services

    cluster = make_cluster(tenant)
    _, secret = account_services.create_api_key(
        actor=tenant_admin, user=tenant_admin, expires_in=timedelta(hours=1), cluster=cluster
    )
    response = client.get(
        URL, {"service": SERVICE}, HTTP_AUTHORIZATION=_basic("acme/alice", secret)
    )
    _assert_unauthorized(response, "kubeconfig")
    _, general = make_api_key(tenant_admin)
    response = client.get(
        URL, {"service": "other"}, HTTP_AUTHORIZATION=_basic("acme/alice", general)
    )
    assert response.status_code == 400
    assert "Unknown service 'other'" in response.json()["errors"][0]["message"]
    # a login (docker login: no scope) with good credentials is a token with no access
    response = client.get(
        URL, {"service": SERVICE}, HTTP_AUTHORIZATION=_basic("acme/alice", general)
    )
    assert response.status_code == 200
    assert _verify(response.json()["token"])["access"] == []


def test_post_is_404_so_clients_fall_back_to_get(client, member):
    """docker tries the OAuth2 POST first when it wants a refresh token; 404 means "use GET"."""
    _, secret = make_api_key(member)
    response = client.post(
        URL,
        {"grant_type": "password", "username": "acme/bob", "password": secret, "service": SERVICE},
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"
    event = AuditEvent.objects.get(method="POST", path=URL)
    assert secret not in str(event.request_body)
    assert client.delete(URL).status_code == 405


def _filled(namespace, used: int, quota: int | None):
    from apps.registry.models import Repository

    Repository.objects.create(namespace=namespace, name="app", size=used)
    namespace.storage_quota_bytes = quota
    namespace.save()


def test_quota_drops_push_and_says_why(namespaces, member, tenant_admin):
    # given: 100 bytes used of a 100-byte quota
    _filled(namespaces["private"], 100, 100)
    refusals: list[str] = []
    # then: push is dropped for the quota, and only push
    assert grant(member, _scope("acme/team/app"), refusals) == ["pull", "delete"]
    assert refusals == [
        "registry namespace acme/team is over its storage quota: 100 bytes used of 100 "
        "allowed; delete tags (then garbage-collect) or raise the quota to push again."
    ]
    # a user who may not push anyway is not told about the quota
    rhea = persona(member.tenant, "rhea", "read-only")
    quiet: list[str] = []
    assert "push" not in grant(rhea, _scope("acme/team/app"), quiet) and quiet == []
    # under the quota, or without one, push is granted
    namespaces["private"].storage_quota_bytes = 101
    namespaces["private"].save()
    assert grant(member, _scope("acme/team/app")) == ["pull", "push", "delete"]
    namespaces["private"].storage_quota_bytes = None
    namespaces["private"].save()
    assert grant(member, _scope("acme/team/app")) == ["pull", "push", "delete"]


def test_quota_refusal_is_401_denied_with_the_message_and_audited(client, namespaces, member):
    _filled(namespaces["private"], 2048, 1024)
    _, secret = make_api_key(member)
    pushing = client.get(
        URL,
        {"service": SERVICE, "scope": "repository:acme/team/app:pull,push"},
        HTTP_AUTHORIZATION=_basic("acme/bob", secret),
    )
    assert pushing.status_code == 401, pushing.content
    error = pushing.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert "acme/team is over its storage quota: 2048 bytes used of 1024" in error["message"]
    event = AuditEvent.objects.filter(action="getRegistryToken").latest("id")
    assert event.user == member and event.status_code == 401 and "quota" in event.message
    # a pull of the same repository is granted
    pulling = client.get(
        URL,
        {"service": SERVICE, "scope": "repository:acme/team/app:pull"},
        HTTP_AUTHORIZATION=_basic("acme/bob", secret),
    )
    assert pulling.status_code == 200
    assert _verify(pulling.json()["token"])["access"][0]["actions"] == ["pull"]
