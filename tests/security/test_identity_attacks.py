"""Red-team attacks on the identity providers (issue 11): LDAP and OpenID Connect sign-in,
provisioning, the connection test and the sign-in page, with real requests against the real
slapd and OpenID provider fixtures (``tests/fixtures/ldap.py``, ``tests/fixtures/oidc.py``)
and, where an attacker controls a server, a small hostile server started here on loopback.

Each test names the attack; it fails when the attack works.
"""

from __future__ import annotations

import html
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.identity import module_for
from apps.accounts.models import Group, User
from apps.audit.models import AuditEvent
from tests.conftest import persona
from tests.factories import make_identity_provider
from tests.fixtures.ldap import READER_PW, SUFFIXES
from tests.fixtures.oidc import make_oidc_provider

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

BASE = SUFFIXES[0]
GENERIC = "Wrong tenant/username or password"


# -- helpers --------------------------------------------------------------------------------------
def ldap_provider(tenant, server, name="corp", **extra):
    config = {
        "server_uri": server.uri,
        "bind_dn": server.reader_dn(),
        "user_search_base": f"ou=people,{BASE}",
        "group_search_base": f"ou=groups,{BASE}",
        "group_search_filter": "(objectClass=groupOfNames)",
        **extra,
    }
    return make_identity_provider(tenant, name=name, type="ldap", config=config, secret=READER_PW)


def password_sign_in(client, username, password, tenant="acme"):
    return client.post("/login/", {"tenant": tenant, "username": username, "password": password})


def signed_in_user(client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def oidc_start(client, provider, **params):
    url = reverse("oidc-start", kwargs={"tenant": provider.tenant.slug, "provider": provider.name})
    response = client.get(url, params)
    assert response.status_code == 302, response.content
    return response["Location"]


def oidc_sign_in(client, idp, provider, sub, **params):
    return client.get(idp.authorize(oidc_start(client, provider, **params), sub))


def sso_error(client, response) -> str:
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("login")
    return client.get(response["Location"]).context.get("sso_error") or ""


class HostileServer:
    """An HTTP server on loopback playing a malicious OpenID provider: ``routes`` maps a path
    to a function(handler) that writes the answer however it likes."""

    def __init__(self):
        self.routes: dict = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def json(self, path: str, document: dict) -> None:
        def answer(handler):
            body = json.dumps(document).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        self.routes[path] = answer

    def discovery(self, **overrides) -> dict:
        document = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            **overrides,
        }
        self.json("/.well-known/openid-configuration", document)
        return document

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.close()


class SilentServer:
    """Accepts TCP connections and never answers (a hung directory)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.clients: list = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)

    def close(self):
        self.stop = True
        for conn in self.clients:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


# -- LDAP: injection through the username ---------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["*", "bob)(uid=*", "*)(|(uid=*", "b*", "bob\x00", "bob\\2a", "alice)(&", "(uid=*)"],
)
def test_ldap_filter_injection_through_the_username_signs_nobody_in(client, tenant, ldap_dir, name):
    """With a search filter, wildcards and filter syntax in the typed name are literal: bob's
    password never signs in as someone matched by a wildcard."""
    ldap_provider(tenant, ldap_dir)
    page = password_sign_in(client, name, "bob-Pass-1")
    # (a NUL is refused by the form itself: "Null characters are not allowed")
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert "Wrong tenant/username or password" in text or "Null characters are not" in text
    assert signed_in_user(client) is None
    assert not User.objects.filter(tenant=tenant).exclude(username__in=["boss"]).exists()


@pytest.mark.parametrize(
    "name", ["bob,ou=people", "bob+uid=alice", "alice,dc=example,dc=org", "bob\\", "#bob", " bob"]
)
def test_ldap_dn_template_injection_through_the_username(client, tenant, ldap_dir, name):
    """DN-template injection: ',', '+', '\\' and '#' are escaped, so the typed name cannot
    point the bind at another entry than uid=<name>,ou=people."""
    make_identity_provider(
        tenant,
        name="corp",
        config={"server_uri": ldap_dir.uri, "user_dn_template": f"uid=%(user)s,ou=people,{BASE}"},
    )
    for password in ("bob-Pass-1", "alice-Pass-1"):
        password_sign_in(client, name, password)
        user = signed_in_user(client)
        # " bob" is stripped to bob, whose own password may sign him in; nothing else may
        assert user is None or (name.strip() == "bob" and user.username == "bob")


def test_ldap_nul_and_blank_passwords_are_not_anonymous_binds(client, tenant, ldap_dir):
    make_identity_provider(
        tenant,
        name="corp",
        config={"server_uri": ldap_dir.uri, "user_dn_template": f"uid=%(user)s,ou=people,{BASE}"},
    )
    for password in ("\x00", " ", "\x00bob-Pass-1"):
        password_sign_in(client, "bob", password)
        assert signed_in_user(client) is None, repr(password)


# -- LDAP: a hung directory -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["search", "template", "starttls"])
def test_a_hung_ldap_server_does_not_hang_the_sign_in(client, tenant, silent, mode):
    """A directory that accepts the connection and never answers: the sign-in fails after
    the provider's timeout instead of holding the worker."""
    config = {"server_uri": f"ldap://127.0.0.1:{silent.port}", "timeout": 2}
    if mode == "search":
        config.update(bind_dn="cn=reader,dc=x", user_search_base="ou=people,dc=x")
    else:
        config.update(user_dn_template="uid=%(user)s,ou=people,dc=x")
    if mode == "starttls":
        config["start_tls"] = True
    make_identity_provider(tenant, name="hung", config=config, secret="s")
    started = time.monotonic()
    page = password_sign_in(client, "bob", "bob-Pass-1")
    elapsed = time.monotonic() - started
    assert page.status_code == 200 and GENERIC in page.content.decode()
    # without the timeout the sign-in would wait for ever; the bound is loose for a busy machine
    assert elapsed < 30, f"sign-in held the worker for {elapsed:.1f}s"
    event = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert "127.0.0.1" in event.message


# -- SSRF through the provider's addresses --------------------------------------------------------
METADATA_URLS = [
    "http://169.254.169.254",
    "http://[::ffff:169.254.169.254]",
    "http://metadata.google.internal",
    "http://100.100.100.200",
]


@pytest.mark.parametrize("issuer", METADATA_URLS)
def test_oidc_connection_test_refuses_metadata_addresses(tenant, oidc_idp, issuer):
    """A tenant administrator must not make the portal probe its cloud's metadata service
    (or link-local neighbours) through "test connection"."""
    provider = make_oidc_provider(tenant, oidc_idp, issuer=issuer, timeout=3)
    started = time.monotonic()
    report = module_for("oidc").test_connection(provider)
    assert time.monotonic() - started < 2, "the portal tried to connect"
    assert report.failed_step == "dns", report.as_dict()
    assert "which the portal never connects to" in report.steps[-1].detail


@pytest.mark.parametrize("uri", ["ldap://169.254.169.254", "ldaps://[::ffff:169.254.169.254]"])
def test_ldap_connection_test_and_sign_in_refuse_metadata_addresses(client, tenant, uri):
    provider = make_identity_provider(
        tenant,
        name="meta",
        config={"server_uri": uri, "user_dn_template": "uid=%(user)s,dc=x", "timeout": 3},
    )
    started = time.monotonic()
    report = module_for("ldap").test_connection(provider)
    assert report.failed_step == "dns", report.as_dict()
    assert "which the portal never connects to" in report.steps[-1].detail
    password_sign_in(client, "bob", "bob-Pass-1")
    assert time.monotonic() - started < 2, "the portal tried to connect"
    event = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert "which the portal never connects to" in event.message


def test_oidc_sign_in_refuses_a_metadata_issuer(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, issuer="http://169.254.169.254", timeout=3)
    started = time.monotonic()
    response = client.get(
        reverse("oidc-start", kwargs={"tenant": "acme", "provider": provider.name})
    )
    assert time.monotonic() - started < 2, "the portal tried to connect"
    assert "which the portal never connects to" in sso_error(client, response)


def test_discovery_pointing_keys_at_the_metadata_service_is_refused(tenant, oidc_idp, hostile):
    """The issuer is harmless, its discovery document is not: jwks_uri (and the token and
    userinfo endpoints) are fetched by the portal too."""
    hostile.discovery(jwks_uri="http://169.254.169.254/latest/meta-data/iam/")
    provider = make_oidc_provider(tenant, oidc_idp, issuer=hostile.url, timeout=3)
    started = time.monotonic()
    report = module_for("oidc").test_connection(provider)
    assert time.monotonic() - started < 2, "the portal tried to connect"
    assert report.failed_step == "jwks", report.as_dict()
    assert "which the portal never connects to" in report.steps[-1].detail


def test_loopback_follows_the_portals_loopback_policy(tenant, oidc_idp, ldap_dir, settings):
    """Loopback is the portal's own host: reachable only while PORTAL_ALLOW_LOOPBACK_CLUSTERS
    (the portal's one switch for "connect to my own host on a tenant's behalf") is on."""
    oidc = make_oidc_provider(tenant, oidc_idp)
    directory = ldap_provider(tenant, ldap_dir)
    assert module_for("oidc").test_connection(oidc).ok
    assert module_for("ldap").test_connection(directory).ok
    settings.PORTAL_ALLOW_LOOPBACK_CLUSTERS = False
    for provider in (oidc, directory):
        report = module_for(provider.type).test_connection(provider)
        assert report.failed_step == "dns", report.as_dict()
        assert "PORTAL_ALLOW_LOOPBACK_CLUSTERS" in report.steps[-1].detail


def test_libldap_connects_where_the_portal_checked_not_where_it_would_resolve(
    client, tenant, ldap_dir, monkeypatch
):
    """ldap:// connections are made by the portal to the address its policy checked and
    handed to libldap (no second resolution a rebinding DNS could answer differently). Shown
    with a name only the portal's resolver knows: libldap resolving it itself would fail.
    StartTLS still verifies the certificate against that name (the directory's certificate
    is for 127.0.0.1 and localhost, so it is refused), and the same name answering with the
    metadata address is refused before any connection."""
    real = socket.getaddrinfo
    answers = {"directory.test": "127.0.0.1"}

    def portal_resolver(host, *args, **kwargs):
        if host in answers:
            return real(answers[host], *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", portal_resolver)
    uri = f"ldap://directory.test:{ldap_dir.port}"
    provider = ldap_provider(tenant, ldap_dir, server_uri=uri)
    assert password_sign_in(client, "bob", "bob-Pass-1").status_code == 302
    assert signed_in_user(client).username == "bob"
    assert module_for("ldap").test_connection(provider).ok

    provider.config = {**provider.config, "start_tls": True, "ca_cert": ldap_dir.ca_pem}
    provider.save()
    refused = password_sign_in(Client(), "bob", "bob-Pass-1")
    assert GENERIC in refused.content.decode()
    failure = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert f"LDAP server {uri} unreachable: Connect error" in failure.message

    answers["directory.test"] = "169.254.169.254"
    provider.config = {**provider.config, "start_tls": False}
    provider.save()
    started = time.monotonic()
    assert GENERIC in password_sign_in(Client(), "bob", "bob-Pass-1").content.decode()
    assert time.monotonic() - started < 2, "the portal tried to connect"
    failure = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    assert "resolves to cloud metadata address 169.254.169.254" in failure.message

    # a rebinding answer: allowed while checked, the metadata address for whoever asks next —
    # the connection is made to what was checked, so the later answer reaches nothing
    calls = {"n": 0}

    def rebinding(host, *args, **kwargs):
        if host == "directory.test":
            calls["n"] += 1
            target = "127.0.0.1" if calls["n"] % 2 else "169.254.169.254"
            return real(target, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    from apps.accounts.identity.ldap import initialize

    conn = initialize(uri, 3)
    conn.simple_bind_s(ldap_dir.reader_dn(), READER_PW)
    assert conn.whoami_s() == f"dn:{ldap_dir.reader_dn()}"
    conn.unbind_s()
    assert calls["n"] == 1  # one resolution, checked and used


# -- hostile discovery and key answers ------------------------------------------------------------
def test_a_huge_discovery_document_is_not_read_whole(tenant, oidc_idp, hostile):
    sent = {"bytes": 0}

    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b'{"issuer": "' + hostile.url.encode() + b'", "pad": "')
        chunk = b"x" * 65536
        for _ in range(4096):  # up to 256 MiB
            handler.wfile.write(chunk)
            sent["bytes"] += len(chunk)

    hostile.routes["/.well-known/openid-configuration"] = endless
    provider = make_oidc_provider(tenant, oidc_idp, issuer=hostile.url, timeout=5)
    report = module_for("oidc").test_connection(provider)
    assert report.failed_step == "discovery", report.as_dict()
    assert "larger than" in report.steps[-1].detail
    assert sent["bytes"] < 16 * 1024 * 1024, f"the portal read {sent['bytes']} bytes"


def test_a_slowly_dripping_discovery_document_times_out_as_a_whole(tenant, oidc_idp, hostile):
    """Each byte arrives within the read timeout, the whole never does: the timeout must
    bound the request, not each read."""
    document = json.dumps(hostile.discovery()).encode()

    def drip(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(document)))
        handler.end_headers()
        deadline = time.monotonic() + 20
        for index in range(len(document)):
            if time.monotonic() > deadline:
                return
            handler.wfile.write(document[index : index + 1])
            handler.wfile.flush()
            time.sleep(0.5)

    hostile.routes["/.well-known/openid-configuration"] = drip
    provider = make_oidc_provider(tenant, oidc_idp, issuer=hostile.url, timeout=2)
    started = time.monotonic()
    report = module_for("oidc").test_connection(provider)
    elapsed = time.monotonic() - started
    # the drip lasts 20 s; the bound is loose for a busy machine and still below it
    assert elapsed < 15, f"the discovery request took {elapsed:.1f}s with a 2s timeout"
    assert report.failed_step == "discovery", report.as_dict()
    assert "timed out" in report.steps[-1].detail


# -- CA bundles on disk ---------------------------------------------------------------------------
def test_a_planted_ca_file_is_not_trusted_for_oidc(tenant, oidc_idp, ldap_dir):
    """The OIDC CA bundle went to /tmp/tkeportal-oidc-ca-<hash of the PEM>.pem and was
    reused when present: anyone on the host could plant their own CA there first (the
    provider's CA certificate, hence the name, is public)."""
    from apps.accounts.identity.oidc.discovery import verify_option

    real_ca = ldap_dir.ca_pem
    config = {"verify_tls": True, "ca_cert": real_ca}
    path = verify_option(config)
    with open(path) as handle:
        assert handle.read().strip() == real_ca.strip()
    os.chmod(path, 0o600)
    with open(path, "w") as handle:  # the planted file (a stranger's CA)
        handle.write("-----BEGIN CERTIFICATE-----\nplanted\n-----END CERTIFICATE-----\n")
    path = verify_option(config)
    with open(path) as handle:
        assert handle.read().strip() == real_ca.strip()
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0


def test_a_planted_ca_file_is_not_trusted_for_ldap(ldap_dir):
    from apps.accounts.identity.ldap import _ca_file

    real_ca = ldap_dir.ca_pem
    path = _ca_file(real_ca)
    with open(path, "w") as handle:
        handle.write("-----BEGIN CERTIFICATE-----\nplanted\n-----END CERTIFICATE-----\n")
    path = _ca_file(real_ca)
    with open(path) as handle:
        assert handle.read().strip() == real_ca.strip()


# -- OIDC claims ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "verified",
    ["missing", 0, "no", "False", "0", None, {"value": True}],
    ids=["missing", "zero", "no", "False-string", "0-string", "null", "object"],
)
def test_allowed_domains_need_a_verified_address(client, tenant, oidc_idp, verified):
    """With allowed_email_domains, only an address the provider says it verified counts: a
    provider that lets people type any address (and says nothing, or something else than
    true) must not let x@evil sign in as someone of corp.example."""
    provider = make_oidc_provider(tenant, oidc_idp, allowed_email_domains=["corp.example"])
    claims = {"preferred_username": "mallory", "email": "mallory@corp.example"}
    if verified != "missing":
        claims["email_verified"] = verified
    oidc_idp.set_user("sub-mallory", **claims)
    message = sso_error(client, oidc_sign_in(client, oidc_idp, provider, "sub-mallory"))
    assert "not verified" in message
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.parametrize(
    "email",
    ["x@corp.example.evil.com", "x@evil.com@corp.example", "x@evil.com\n@corp.example", "x@"],
)
def test_allowed_domains_are_matched_exactly(client, tenant, oidc_idp, email):
    provider = make_oidc_provider(tenant, oidc_idp, allowed_email_domains=["corp.example"])
    oidc_idp.set_user("sub-x", preferred_username="x", email=email, email_verified=True)
    assert sso_error(client, oidc_sign_in(client, oidc_idp, provider, "sub-x"))
    assert not User.objects.filter(username="x").exists()


def test_a_huge_groups_claim_does_not_flood_the_tenant_with_groups(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp, mirror_groups=True)
    groups = [f"g{i}" for i in range(3000)]
    oidc_idp.set_user("sub-carol", preferred_username="carol", groups=groups)
    message = sso_error(client, oidc_sign_in(client, oidc_idp, provider, "sub-carol"))
    assert "lists 3000 groups for carol; at most 1000 are accepted" in message
    assert Group.objects.filter(tenant=tenant).count() == 0
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    "groups", ["x" * 5000, {"admins": True}, [["nested"]], 42, ["ok", "/a/b/" + "y" * 600]]
)
def test_odd_groups_claims_do_not_break_the_sign_in(client, tenant, oidc_idp, groups):
    provider = make_oidc_provider(tenant, oidc_idp, mirror_groups=True)
    oidc_idp.set_user("sub-carol", preferred_username="carol", groups=groups)
    response = oidc_sign_in(client, oidc_idp, provider, "sub-carol")
    assert response.status_code == 302
    assert signed_in_user(client) is not None and signed_in_user(client).username == "carol"
    names = set(Group.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert names == ({"ok"} if isinstance(groups, list) and "ok" in groups else set())


def test_an_overlong_subject_is_refused_not_a_server_error(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp)
    sub = "s" * 600
    oidc_idp.set_user(sub, preferred_username="carol")
    message = sso_error(client, oidc_sign_in(client, oidc_idp, provider, sub))
    assert "600 characters long; at most 512" in message


# -- LDAP groups outside the group search base ----------------------------------------------------
def test_member_of_groups_outside_the_search_base_are_ignored(client, tenant, ldap_dir):
    """memberOf values were kept when their text *ended with* the base: the entry
    cn=sneaky+ou=groups,dc=example,dc=org (a multi-valued RDN, right under the suffix) ends
    with "ou=groups,dc=example,dc=org" but is not under that base."""
    ldap_dir.add(
        f"cn=sneaky+ou=groups,{BASE}",
        {
            "objectClass": ["groupOfNames", "top"],
            "cn": "sneaky",
            "ou": "groups",
            "member": [ldap_dir.user_dn("bob")],
        },
    )
    ldap_provider(tenant, ldap_dir, group_type="member_dn", mirror_groups=True)
    assert password_sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(tenant=tenant, username="bob")
    names = set(Group.objects.filter(members=bob).values_list("name", flat=True))
    assert "developers" in names
    assert "sneaky" not in names


# -- the sign-in page and the OIDC views ----------------------------------------------------------
def test_a_forged_provider_error_is_not_shown_as_the_portals_words(client, tenant, oidc_idp):
    """Anyone can send a victim to /login/oidc/callback/?error=…&error_description=<text>:
    without a sign-in of this browser behind it (no matching state), the attacker's text must
    not appear on the portal's sign-in page."""
    make_oidc_provider(tenant, oidc_idp)
    text = "Your account is locked. Call +1 555 0199 and give them your password"
    response = client.get(
        "/login/oidc/callback/", {"error": "access_denied", "error_description": text}
    )
    page = client.get(response["Location"])
    assert "Call +1 555 0199" not in page.content.decode()
    assert "Call +1 555 0199" not in (page.context.get("sso_error") or "")


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "http://testserver@evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        " //evil.example",
    ],
)
def test_next_never_leaves_the_portal(client, tenant, oidc_idp, next_url):
    provider = make_oidc_provider(tenant, oidc_idp)
    oidc_idp.set_user("sub-carol", preferred_username="carol")
    response = oidc_sign_in(client, oidc_idp, provider, "sub-carol", next=next_url)
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/login/", {"tenant": "acme", "next": next_url})
    assert "evil.example" not in page.content.decode()
    assert "javascript:" not in page.content.decode()


def test_another_tenants_provider_is_not_reachable_through_my_slug(
    client, tenant, other_tenant, oidc_idp
):
    make_oidc_provider(other_tenant, oidc_idp, name="globex-sso")
    url = reverse("oidc-start", kwargs={"tenant": "acme", "provider": "globex-sso"})
    response = client.get(url)
    assert urlsplit(response["Location"]).path == reverse("login")
    assert "oidc_states" not in client.session or not client.session["oidc_states"]


def test_a_disabled_tenant_signs_nobody_in(client, tenant, oidc_idp, ldap_dir):
    ldap_provider(tenant, ldap_dir)
    provider = make_oidc_provider(tenant, oidc_idp)
    oidc_idp.set_user("sub-carol", preferred_username="carol")
    authorize = oidc_start(client, provider)  # started while the tenant was active
    tenant.is_active = False
    tenant.save()
    assert sso_error(client, client.get(oidc_idp.authorize(authorize, "sub-carol")))
    assert signed_in_user(client) is None
    password_sign_in(client, "bob", "bob-Pass-1")
    assert signed_in_user(client) is None
    assert not User.objects.filter(username__in=["bob", "carol"]).exists()


def test_a_mirrored_group_does_not_take_over_a_privileged_local_group(
    client, tenant, tenant_admin, ldap_dir
):
    """bob is in the directory's 'admins' group … and the tenant has a local group of the
    same name bound to the administrator policy: mirroring must not put him in it."""
    from apps.authz.models import Binding
    from apps.authz.services import ADMINISTRATOR, predefined

    admins = Group.objects.create(tenant=tenant, name="admins")
    policy = predefined(tenant, ADMINISTRATOR)
    Binding.objects.create(tenant=tenant, group=admins, policy=policy, domain="*")
    ldap_dir.add_member("admins", "bob")
    ldap_provider(tenant, ldap_dir, mirror_groups=True)
    assert password_sign_in(client, "bob", "bob-Pass-1").status_code == 302
    bob = User.objects.get(tenant=tenant, username="bob")
    assert not admins.members.filter(pk=bob.pk).exists()
    assert not bob.is_tenant_admin
    assert client.get("/api/v1/identity-providers/").status_code == 403


# -- secrets --------------------------------------------------------------------------------------
def test_a_providers_secret_is_never_echoed(client, api, tenant, tenant_admin, ldap_dir, oidc_idp):
    secret = "Sup3r-Secret-Bind-Pw"
    admin_api = api(tenant_admin)
    config = {
        "server_uri": ldap_dir.uri,
        "bind_dn": ldap_dir.reader_dn(),
        "user_search_base": f"ou=people,{BASE}",
    }
    created = admin_api.post(
        "/api/v1/identity-providers/",
        {"name": "corp", "type": "ldap", "config": config, "secret": secret},
        format="json",
    )
    assert created.status_code == 201, created.content
    bodies = [created.content.decode()]
    bodies.append(admin_api.get("/api/v1/identity-providers/corp/").content.decode())
    bodies.append(admin_api.get("/api/v1/identity-providers/").content.decode())
    report = admin_api.post("/api/v1/identity-providers/corp/test/")
    assert report.json()["failed_step"] == "bind"  # the wrong password: the secret is wrong
    bodies.append(report.content.decode())
    bodies.append(
        admin_api.patch(
            "/api/v1/identity-providers/corp/", {"secret": secret + "x"}, format="json"
        ).content.decode()
    )
    password_sign_in(client, "bob", "bob-Pass-1")
    bodies.append(password_sign_in(client, "bob", secret).content.decode())
    for event in AuditEvent.objects.all():
        bodies.append(json.dumps([event.message, event.request_body], default=str))
    from apps.accounts.models import IdentityProvider

    provider = IdentityProvider.objects.get(tenant=tenant, name="corp")
    bodies.append(json.dumps([provider.last_test, provider.config]))
    for body in bodies:
        assert secret not in body


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("claimed", ["Bob", "bob ", " BOB", "\u212aarl", "b\u0131b", "\uff42ob"])
def test_look_alike_names_never_reach_a_local_account(client, tenant, oidc_idp, claimed):
    """A provider claiming a name that folds to a local user's (case, spaces, the Kelvin
    sign K that lowercases to k, dotless i, fullwidth letters) never signs in as them."""
    bob = persona(tenant, "bob", "administrator")
    karl = persona(tenant, "karl", "administrator")
    provider = make_oidc_provider(tenant, oidc_idp)
    oidc_idp.set_user("sub-x", preferred_username=claimed)
    assert sso_error(client, oidc_sign_in(client, oidc_idp, provider, "sub-x"))
    assert signed_in_user(client) is None
    assert not User.objects.filter(identity_provider=provider).exists()
    assert {u.source for u in (bob, karl)} == {"local"}


def test_a_rename_at_the_provider_cannot_take_another_users_name(client, tenant, oidc_idp):
    provider = make_oidc_provider(tenant, oidc_idp)
    oidc_idp.set_user("sub-carol", preferred_username="carol")
    oidc_idp.set_user("sub-mallory", preferred_username="mallory")
    oidc_sign_in(client, oidc_idp, provider, "sub-carol")
    oidc_sign_in(Client(), oidc_idp, provider, "sub-mallory")
    oidc_idp.set_user("sub-mallory", preferred_username="carol")
    other = Client()
    message = sso_error(other, oidc_sign_in(other, oidc_idp, provider, "sub-mallory"))
    assert "renamed this user to 'carol', which is taken" in message
    assert User.objects.get(username="carol").external_id == "sub-carol"
    assert User.objects.get(username="mallory").external_id == "sub-mallory"
