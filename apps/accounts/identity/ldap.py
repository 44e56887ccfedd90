"""LDAP directories as identity providers (django-auth-ldap, configured per provider).

Each ``IdentityProvider`` of type ``ldap`` is its own directory: its ``config`` (validated by
``identity.config.LDAPConfig``) and its ``secret`` (the bind password) become a
django-auth-ldap ``LDAPSettings`` for that provider only — the global ``AUTH_LDAP_*``
settings are never read, so two tenants' directories never mix.

- :class:`PortalLDAPBackend` — the sign-in backend. ``tenant/name`` + password: the tenant's
  directories are asked in priority order (only their own directory for users who already
  signed in through one). django-auth-ldap finds the entry, checks the password and the
  required group; the portal user is then created or updated by
  ``provisioning.provision_user`` (tenant, ``source=ldap``, ``external_id`` = the entry's DN,
  groups, administrator flag, no takeover of someone else's account) — django-auth-ldap's own
  user creation and group mirroring are not used.
- :func:`test_connection` — the "test connection" action: dns, tcp, tls, bind, search.
- :func:`revalidate` / :func:`sync` — ask the directory whether its users still exist, are
  enabled and in which groups; people removed or disabled lose their sessions and API keys at
  their next request.

A directory that is down never crashes a sign-in: it is a failed sign-in whose audit event
says what happened (``LDAP server ldap://… unreachable``); the page shows the usual error.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import ssl
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import ldap
import ldap.dn
from django.db.models import Q
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import (
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPGroupType,
    LDAPSearch,
    LDAPSettings,
    PosixGroupType,
)

from ..backends import PortalBackendMixin, may_act
from ..choices import DirectoryState, ProviderType, UserSource
from ..models import IdentityProvider, User
from . import network, probe
from .provisioning import (
    EntryReplaced,
    ExternalGroup,
    Identity,
    ProvisioningRefused,
    provision_user,
    set_directory_state,
)

logger = logging.getLogger("tkeportal.identity")

DEFAULT_PORTS = {"ldap": 389, "ldaps": 636}
# django-auth-ldap reads ``<prefix><NAME>`` from Django settings before its defaults; no
# setting has this prefix, so a provider's settings are exactly what we pass.
_NO_GLOBAL_SETTINGS = "PORTAL_LDAP_PROVIDER_SETTINGS_ARE_PER_PROVIDER_"
# How many entries the "search" step counts before saying "at least".
_PROBE_SIZE_LIMIT = 1000
# Sign-in failures caused by the directory itself (as opposed to the person's credentials).
_UNREACHABLE = (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT, ldap.TIMELIMIT_EXCEEDED)


class SignInFailed(Exception):
    """This directory did not vouch for the person; the message says why (audit only)."""


class MemberOfGroupType(LDAPGroupType):
    """Groups listed in the user entry's ``memberOf`` attribute (Active Directory, OpenLDAP's
    memberof overlay), limited to those under the group search base. Config value
    ``member_dn``."""

    def user_groups(self, ldap_user, group_search):
        groups = []
        for dn in _attr_values(ldap_user.attrs or {}, "memberOf"):
            if not _is_under(dn, group_search.base_dn):
                continue
            try:
                groups += LDAPSearch(dn, ldap.SCOPE_BASE, group_search.filterstr).execute(
                    ldap_user.connection
                )
            except ldap.NO_SUCH_OBJECT:
                continue
        return groups

    def is_member(self, ldap_user, group_dn):
        return group_dn.lower() in {
            dn.lower() for dn in _attr_values(ldap_user.attrs or {}, "memberOf")
        }


def _is_under(dn: str, base: str) -> bool:
    """Is ``dn`` the entry ``base`` or below it? Compared RDN by RDN: as text,
    ``cn=x+ou=groups,dc=example,dc=org`` ends with ``ou=groups,dc=example,dc=org`` and yet
    is not under it."""
    try:
        entry, parent = ldap.dn.str2dn(dn.lower()), ldap.dn.str2dn(base.lower())
    except ldap.DECODING_ERROR:
        return False
    return len(entry) >= len(parent) and entry[len(entry) - len(parent) :] == parent


def _group_type(name: str) -> LDAPGroupType:
    return {
        "group_of_names": GroupOfNamesType,
        "group_of_unique_names": GroupOfUniqueNamesType,
        "posix_group": PosixGroupType,
        "member_dn": MemberOfGroupType,
    }[name]()


# -- settings per provider --------------------------------------------------------------------
def _ca_file(pem: str) -> str:
    """libldap reads CAs from a file: ``network.ca_file`` (private directory, content
    checked at every use)."""
    return network.ca_file(pem)


def uses_tls(config: dict) -> bool:
    return bool(config.get("start_tls")) or config["server_uri"].lower().startswith("ldaps:")


def connection_options(config: dict) -> dict:
    """python-ldap options for one connection: protocol 3, no referral chasing, the
    provider's timeout for connecting and for each operation, and its TLS trust."""
    timeout = float(config.get("timeout", 5))
    options = {
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
    }
    if uses_tls(config):
        verify = config.get("verify_tls", True)
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = (
            ldap.OPT_X_TLS_DEMAND if verify else ldap.OPT_X_TLS_NEVER
        )
        cafile = _ca_file(config["ca_cert"]) if config.get("ca_cert") else None
        cafile = cafile or ssl.get_default_verify_paths().cafile
        if cafile:
            options[ldap.OPT_X_TLS_CACERTFILE] = cafile
        # Must come last: makes libldap build a TLS context from the options above.
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    return options


# An entry's permanent id: OpenLDAP's entryUUID (operational: asked for by name),
# Active Directory's objectGUID (binary).
ENTRY_UID_ATTRS = ("entryUUID", "objectGUID")


def _user_attrlist(config: dict) -> list[str]:
    # memberOf is an operational attribute in OpenLDAP: "*" alone does not return it.
    extra = ["memberOf"] if config.get("group_type") == "member_dn" else []
    return ["*", *ENTRY_UID_ATTRS, *extra]


def entry_uid(attrs: dict) -> str:
    """The entry's permanent id ('' when the directory has none)."""
    for name in ENTRY_UID_ATTRS:
        values = _attr_values(attrs, name)
        if values:
            value = values[0]
            return value.hex() if isinstance(value, bytes) else str(value)
    return ""


def ldap_settings(provider: IdentityProvider) -> LDAPSettings:
    """The django-auth-ldap settings of ``provider`` (and nothing from Django settings)."""
    config = provider.config
    attrlist = _user_attrlist(config)
    bind_dn = config.get("bind_dn", "")
    values = {
        "SERVER_URI": config["server_uri"],
        "START_TLS": bool(config.get("start_tls")),
        "CONNECTION_OPTIONS": connection_options(config),
        "BIND_DN": bind_dn,
        "BIND_PASSWORD": provider.secret if bind_dn else "",
        # Without a service account, read the user's own entry and groups as them.
        "BIND_AS_AUTHENTICATING_USER": not bind_dn,
        "USER_DN_TEMPLATE": config.get("user_dn_template") or None,
        "USER_SEARCH": (
            LDAPSearch(
                config["user_search_base"],
                ldap.SCOPE_SUBTREE,
                config.get("user_search_filter", "(uid=%(user)s)"),
                attrlist,
            )
            if config.get("user_search_base")
            else None
        ),
        "USER_ATTRLIST": attrlist,
        "GROUP_SEARCH": (
            LDAPSearch(
                config["group_search_base"],
                ldap.SCOPE_SUBTREE,
                config.get("group_search_filter") or "(objectClass=*)",
            )
            if config.get("group_search_base")
            else None
        ),
        "GROUP_TYPE": _group_type(config.get("group_type", "group_of_names")),
        # Profile, groups and flags are written by provisioning, not by django-auth-ldap.
        "ALWAYS_UPDATE_USER": False,
        "MIRROR_GROUPS": None,
        "USER_ATTR_MAP": {},
        "USER_FLAGS_BY_GROUP": {},
        "FIND_GROUP_PERMS": False,
        "CACHE_TIMEOUT": 0,
        "PERMIT_EMPTY_PASSWORD": False,
    }
    return LDAPSettings(_NO_GLOBAL_SETTINGS, values)


def check_addresses(server_uri: str) -> None:
    """libldap resolves and connects by itself: check every host of ``server_uri`` against
    the portal's address policy just before (``network``). Raises ``AddressRefused`` (an
    OSError) or ``socket.gaierror``."""
    for host, port in network.ldap_hosts(server_uri):
        network.check_host(host, port)


def initialize(uri: str, timeout: float):
    """An unbound LDAPObject for ``uri`` that reaches only an address the portal's policy
    allows (``network``) — what every connection to a directory goes through (sign-in,
    revalidation, "test connection").

    - ``ldap://`` (plain or StartTLS): the portal resolves the host, checks the address and
      connects the TCP socket itself; libldap is handed the connected descriptor
      (``ldap_init_fd``), so there is no second resolution it could be rebound between.
      StartTLS still verifies the certificate against the host name in ``uri`` (libldap
      takes the name from the URI, not from the socket).
    - ``ldaps://``: libldap cannot start TLS on a descriptor it is handed, so it connects by
      itself; the host is checked just before. The one window left — DNS answering
      differently for libldap than a moment earlier — reaches no further than a TCP connection
      and a TLS handshake: no LDAP byte (and no password) is sent before the server's
      certificate verified for the configured name.
    """
    if urlsplit(uri).scheme.lower() != "ldap":
        check_addresses(uri)
        return ldap.initialize(uri, bytes_mode=False)
    ((host, port),) = network.ldap_hosts(uri)
    try:
        sock = network.connect(host, port, timeout)
    except (network.AddressRefused, socket.gaierror):
        raise
    except OSError as exc:  # as libldap would say it, so every caller handles one error
        raise ldap.SERVER_DOWN(
            {
                "result": -1,
                "desc": "Can't contact LDAP server",
                "info": probe.describe_os_error(exc),
            }
        ) from exc
    sock.settimeout(None)  # libldap wants a blocking descriptor; OPT_TIMEOUT bounds each call
    fd = sock.detach()
    try:
        return ldap.initialize(uri, bytes_mode=False, fileno=fd)
    except (ldap.LDAPError, OSError, ValueError, TypeError):
        os.close(fd)  # libldap did not take the descriptor
        raise


class _CheckedLDAPModule:
    """What django-auth-ldap asks of ``backend.ldap`` (``initialize``), through
    :func:`initialize` with the provider's timeout."""

    def __init__(self, timeout: float):
        self.timeout = timeout

    def initialize(self, uri, bytes_mode=False):
        return initialize(uri, self.timeout)


def open_connection(settings: LDAPSettings):
    """A connection bound with the provider's bind DN (anonymous when it has none), set up
    the way django-auth-ldap sets up its own (options, then StartTLS)."""
    conn = initialize(
        settings.SERVER_URI, settings.CONNECTION_OPTIONS.get(ldap.OPT_NETWORK_TIMEOUT, 5)
    )
    for option, value in settings.CONNECTION_OPTIONS.items():
        conn.set_option(option, value)
    if settings.START_TLS:
        conn.start_tls_s()
    conn.simple_bind_s(settings.BIND_DN, settings.BIND_PASSWORD)
    return conn


def describe_ldap_error(exc: Exception, uri: str) -> str:
    """One line saying what went wrong talking to ``uri`` (never a password)."""
    if isinstance(exc, OSError):  # the address policy refused, or the name did not resolve
        return f"LDAP server {uri}: {probe.describe_os_error(exc)}"
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc = info.get("desc") or type(exc).__name__
    extra = info.get("info") or ""
    if extra and "unknown error" not in extra:
        desc = f"{desc} ({extra})"
    if isinstance(exc, ldap.SERVER_DOWN | ldap.CONNECT_ERROR):
        hint = " — or its TLS certificate was refused" if "ldaps:" in uri.lower() else ""
        return f"LDAP server {uri} unreachable{hint}: {desc}"
    if isinstance(exc, ldap.TIMEOUT | ldap.TIMELIMIT_EXCEEDED):
        return f"LDAP server {uri} did not answer in time: {desc}"
    return f"LDAP server {uri}: {desc}"


# -- reading an entry --------------------------------------------------------------------------
@dataclass
class _Entry:
    """A directory entry as django-auth-ldap's group types expect a user: ``dn``, ``attrs``
    and a bound ``connection`` (used by revalidation, which has no ``_LDAPUser``)."""

    dn: str
    attrs: dict
    connection: object


def _attr_values(attrs: dict, name: str) -> list[str]:
    name = name.lower()
    for key, values in attrs.items():
        if key.lower() == name:
            return list(values)
    return []


def _first(attrs: dict, name: str) -> str:
    values = _attr_values(attrs, name) if name else []
    return values[0] if values else ""


def _matches(conn, dn: str, filterstr: str) -> bool:
    """Does the entry ``dn`` match ``filterstr``?"""
    try:
        return bool(conn.search_s(dn, ldap.SCOPE_BASE, filterstr, ["1.1"]))
    except ldap.NO_SUCH_OBJECT:
        return False


def _in_group(settings: LDAPSettings, entry, group_dn: str) -> bool:
    group_type = settings.GROUP_TYPE
    member = group_type.is_member(entry, group_dn.lower())
    if member is None:
        member = group_dn.lower() in {
            dn.lower() for dn, _ in group_type.user_groups(entry, settings.GROUP_SEARCH)
        }
    return bool(member)


def _canonical(dn: str, config: dict) -> str:
    """A group DN as the provider's config spells it (``group_mapping`` keys,
    ``admin_groups``), so the comparison in provisioning does not depend on case."""
    known = [*config.get("group_mapping", {}), *config.get("admin_groups", [])]
    return next((k for k in known if k.lower() == dn.lower()), dn)


def _group_name(group_type: LDAPGroupType, info) -> str:
    name = group_type.group_name_from_info(info)
    if not name:
        rdn = ldap.dn.str2dn(info[0])[0]
        name = rdn[0][1]
    return name


# ``attr=%(user)s`` in a search filter or DN template: the attribute the sign-in name is.
_USER_COMPARISON = re.compile(r"([A-Za-z][A-Za-z0-9.-]*)\s*=\s*%\(user\)s")


def username_attribute(config: dict) -> str:
    """The entry attribute whose value is the portal username: ``username_attr`` when set,
    else the one attribute the sign-in name is compared with (the DN template's, or the
    search filter's single ``(attr=%(user)s)``), else ``uid``."""
    if config.get("username_attr"):
        return config["username_attr"]
    pattern = config.get("user_dn_template") or config.get("user_search_filter") or ""
    found = {name.lower() for name in _USER_COMPARISON.findall(pattern)}
    return found.pop() if len(found) == 1 else "uid"


def directory_username(config: dict, entry) -> str:
    """The portal username of ``entry``: its ``username_attribute`` value as the directory
    spells it — never the name as typed, which LDAP matches regardless of case, spaces or
    (with a filter such as ``(|(uid=%(user)s)(mail=%(user)s))``) attribute, and which would
    otherwise make one person several accounts or rename them at each sign-in. Of several
    values, the one in the entry's RDN, else the alphabetically first (deterministic)."""
    attr = username_attribute(config)
    values = sorted(
        {str(v).strip() for v in _attr_values(entry.attrs or {}, attr) if str(v).strip()},
        key=lambda v: (v.lower(), v),
    )
    if not values:
        raise ProvisioningRefused(
            f"the directory entry {entry.dn} has no '{attr}' attribute to take the portal "
            "username from (set username_attr)"
        )
    try:
        rdn = {
            value.lower()
            for name, value, _ in ldap.dn.str2dn(entry.dn)[0]
            if name.lower() == attr.lower()
        }
    except (ldap.DECODING_ERROR, IndexError):
        rdn = set()
    return next((v for v in values if v.lower() in rdn), values[0])


def read_identity(settings: LDAPSettings, config: dict, entry) -> Identity:
    """What the directory says about ``entry``: its username (:func:`directory_username`),
    profile (through ``attr_map``) and groups."""
    attrs = entry.attrs or {}
    username = directory_username(config, entry)
    attr_map = config.get("attr_map", {})
    groups = []
    if settings.GROUP_SEARCH is not None:
        for info in settings.GROUP_TYPE.user_groups(entry, settings.GROUP_SEARCH):
            groups.append(
                ExternalGroup(
                    external_id=_canonical(info[0], config),
                    name=_group_name(settings.GROUP_TYPE, info),
                )
            )
    return Identity(
        username=username,
        external_id=entry.dn.lower(),
        entry_uid=entry_uid(attrs),
        email=_first(attrs, attr_map.get("email", "")),
        display_name=_first(attrs, attr_map.get("display_name", "")),
        phone=_first(attrs, attr_map.get("phone", "")),
        groups=groups,
    )


def _refusal(settings: LDAPSettings, config: dict, entry) -> str:
    """Why the directory refuses this existing entry ('' when it does not)."""
    disabled = config.get("user_disabled_filter")
    if disabled and _matches(entry.connection, entry.dn, disabled):
        return f"{entry.dn} is disabled in the directory (matches {disabled})"
    required = config.get("require_group")
    if required and not _in_group(settings, entry, required):
        return f"{entry.dn} is not a member of {required}"
    return ""


# -- sign-in -----------------------------------------------------------------------------------
def explain_failed_sign_in(request, reason: str, *, show: str = "") -> None:
    """Tell the sign-in's audit event why it failed (``reason``) and, when ``show`` is set,
    the person too (the form shows it instead of the generic error)."""
    if request is None:
        return
    request.portal_sign_in_reason = reason[:1000]
    if show:
        request.portal_sign_in_error = show


class PortalLDAPBackend(PortalBackendMixin, LDAPBackend):
    """Password sign-in against the tenant's LDAP directories (see the module docstring).

    Django instantiates it without a provider; each directory asked gets its own instance
    whose ``settings`` are that provider's. Sessions it opened are re-checked on every
    request by :class:`PortalBackendMixin` (a user the directory dropped is signed out).
    LDAP grants no Django permissions: the portal's authorization is ``apps.authz``.
    """

    def __init__(self, provider: IdentityProvider | None = None):
        self.provider = provider
        self._request = None
        self._name = ""

    @property
    def settings(self):
        if self._settings is None:
            self._settings = (
                ldap_settings(self.provider)
                if self.provider is not None
                else LDAPSettings(_NO_GLOBAL_SETTINGS, {})
            )
        return self._settings

    @settings.setter
    def settings(self, value):
        self._settings = value

    @property
    def ldap(self):
        """django-auth-ldap connects through ``self.ldap.initialize``: the portal's checked
        connection (:func:`initialize`) instead of python-ldap's own."""
        return _CheckedLDAPModule(self.settings.CONNECTION_OPTIONS.get(ldap.OPT_NETWORK_TIMEOUT, 5))

    def has_perm(self, user, perm, obj=None):
        return False

    def has_module_perms(self, user, app_label):
        return False

    def get_all_permissions(self, user, obj=None):
        return set()

    def get_group_permissions(self, user, obj=None):
        return set()

    # -- the Django backend API ---------------------------------------------------------------
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password or "/" not in username:
            return None  # no tenant, no directory to ask; an empty password is never tried
        slug, _, name = username.partition("/")
        name = name.strip()
        providers, known = self._providers_for(slug.strip().lower(), name.lower())
        if not name or not providers:
            return None
        reasons = []
        for provider in providers:
            backend = type(self)(provider)
            backend._request, backend._name = request, name
            try:
                check_addresses(provider.config["server_uri"])
                # django-auth-ldap's entry point, which calls authenticate_ldap_user below
                user = LDAPBackend.authenticate(backend, request, username=name, password=password)
            except SignInFailed as exc:
                reasons.append(f"{provider.name}: {exc}")
                continue
            except (ldap.LDAPError, OSError) as exc:
                reason = describe_ldap_error(exc, provider.config["server_uri"])
                logger.warning("identity provider %s: sign-in of %s: %s", provider, name, reason)
                reasons.append(f"{provider.name}: {reason}")
                continue
            except ProvisioningRefused as exc:
                message = str(exc)
                show = f"{message[:1].upper()}{message[1:]}."
                explain_failed_sign_in(request, f"{provider.name}: {message}", show=show)
                return None
            if user is not None:
                return user
            reasons.append(f"{provider.name}: refused")
        reason = "; ".join(reasons)
        if known is not None and known.source != UserSource.LDAP:
            # The local backend already refused this account's own password.
            reason = f"{known} is a {known.source} account and its sign-in failed ({reason})"
        explain_failed_sign_in(request, reason)
        return None

    @staticmethod
    def _providers_for(slug: str, name: str) -> tuple[list[IdentityProvider], User | None]:
        """The directories to ask — the one that vouched for this user before, otherwise every
        enabled LDAP provider of the (active) tenant in priority order — and the portal user
        of that name, if any."""
        if not slug:
            return [], None
        candidates = IdentityProvider.objects.filter(
            tenant__slug=slug, tenant__is_active=True, type=ProviderType.LDAP, enabled=True
        ).select_related("tenant")
        known = (
            User.objects.filter(tenant__slug=slug, username=name)
            .select_related("identity_provider")
            .first()
        )
        if known is not None and known.identity_provider_id is not None:
            if known.identity_provider.type == ProviderType.LDAP:
                candidates = candidates.filter(pk=known.identity_provider_id)
        # A local (or single-sign-on) user of that name is not skipped: if a directory
        # vouches for the password, provisioning refuses the takeover and says why.
        return list(candidates.order_by("priority", "name")), known

    # -- django-auth-ldap hooks ---------------------------------------------------------------
    def authenticate_ldap_user(self, ldap_user, password):
        """django-auth-ldap's ``_LDAPUser.authenticate`` logs and swallows every directory
        error, so a server that is down would look like a wrong password. These are its steps
        (find the DN, bind as the user) with each failure saying why: LDAP errors propagate
        to :meth:`authenticate`, refusals raise :class:`SignInFailed`."""
        settings = self.settings
        config = self.provider.config
        if settings.USER_SEARCH is not None:
            try:
                ldap_user.connection  # noqa: B018  the service bind: a dead server raises here
            except ldap.INVALID_CREDENTIALS as exc:
                raise SignInFailed(
                    f"the directory refused the provider's bind DN '{settings.BIND_DN}'"
                ) from exc
            if ldap_user.dn is None:
                raise SignInFailed(
                    f"no single entry matches {config['user_search_filter']} "
                    f"under {config['user_search_base']}"
                )
        try:
            # django-auth-ldap 5.x: binds as ldap_user.dn (sticky when reading as the user).
            ldap_user._authenticate_user_dn(password)
        except ldap_user.AuthenticationFailed as exc:
            raise SignInFailed(f"wrong password for {ldap_user.dn} (or no such entry)") from exc
        entry = _Entry(ldap_user.dn, ldap_user.attrs, ldap_user.connection)
        refusal = _refusal(settings, config, entry)
        if refusal:
            raise SignInFailed(refusal)
        user, _ = self.get_or_build_user(self._name, ldap_user)
        if not may_act(user):
            raise SignInFailed(f"the portal account {user} is deactivated")
        return user

    def get_or_build_user(self, username, ldap_user):
        """Every portal user django-auth-ldap would create or update goes through
        ``provision_user`` (tenant, source, takeover refusal, groups, admin flag)."""
        # ``username`` is the name as typed; the directory's own spelling is what counts.
        entry = _Entry(ldap_user.dn, ldap_user.attrs, ldap_user.connection)
        identity = read_identity(self.settings, self.provider.config, entry)
        user = provision_user(self.provider, identity, request=self._request)
        return user, False


# -- test connection ---------------------------------------------------------------------------
def _ber_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, length, start of content) of the BER element at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, length, pos


# LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0] StartTLS OID } }
_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_STARTTLS_REQUEST = bytes([0x30, 0x1D, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16]) + _STARTTLS_OID


def _starttls_result(reply: bytes) -> int:
    """The resultCode of an ExtendedResponse to the StartTLS request."""
    tag, _, pos = _ber_header(reply, 0)  # LDAPMessage SEQUENCE
    _, length, pos = _ber_header(reply, pos)  # messageID
    tag, _, pos = _ber_header(reply, pos + length)
    if tag != 0x78:
        raise probe.StepFailed("the server did not answer the StartTLS request")
    tag, length, pos = _ber_header(reply, pos)
    return int.from_bytes(reply[pos : pos + length], "big") if tag == 0x0A else -1


def _check_starttls(report, host, port, timeout, ca_pem, verify) -> None:
    """StartTLS by hand, so a certificate problem is reported the way Python's ssl names it
    (libldap only says "Connect error")."""

    def handshake():
        try:
            with network.connect(host, port, timeout) as raw:
                raw.sendall(_STARTTLS_REQUEST)
                reply = raw.recv(4096)
                if not reply:
                    raise probe.StepFailed("the server closed the connection on StartTLS")
                try:
                    code = _starttls_result(reply)
                except IndexError as exc:
                    raise probe.StepFailed("unreadable answer to the StartTLS request") from exc
                if code != 0:
                    raise probe.StepFailed(f"the server refused StartTLS (LDAP result {code})")
                with probe.tls_context(ca_pem, verify).wrap_socket(
                    raw, server_hostname=host
                ) as tls:
                    return f"StartTLS, {tls.version()}"
        except (OSError, ssl.SSLError) as exc:
            raise probe.StepFailed(probe.describe_os_error(exc)) from exc

    report.run("tls", handshake)


def _count(conn, base: str, scope: int, filterstr: str, what: str) -> int:
    try:
        return len(conn.search_ext_s(base, scope, filterstr, ["1.1"], sizelimit=_PROBE_SIZE_LIMIT))
    except ldap.SIZELIMIT_EXCEEDED:
        return _PROBE_SIZE_LIMIT
    except ldap.NO_SUCH_OBJECT as exc:
        raise probe.StepFailed(f"{what} '{base}' does not exist") from exc
    except ldap.FILTER_ERROR as exc:
        raise probe.StepFailed(f"{what}: invalid filter {filterstr}") from exc


def _template_parent(template: str) -> str:
    parts = ldap.dn.explode_dn(template % {"user": "tkeportal-probe"})
    index = next(i for i, rdn in enumerate(parts) if "tkeportal-probe" in rdn)
    return ",".join(parts[index + 1 :])


def _search_checks(conn, config: dict) -> str:
    found = []
    if config.get("user_search_base"):
        presence = config["user_search_filter"].replace("%(user)s", "*")
        base = config["user_search_base"]
        count = _count(conn, base, ldap.SCOPE_SUBTREE, presence, "user search base")
        more = "+" if count >= _PROBE_SIZE_LIMIT else ""
        found.append(f"{count}{more} users match {presence} under {base}")
    else:
        parent = _template_parent(config["user_dn_template"])
        _count(conn, parent, ldap.SCOPE_BASE, "(objectClass=*)", "parent of user_dn_template")
        found.append(f"{parent} exists")
    if config.get("group_search_base"):
        base, filterstr = config["group_search_base"], config.get("group_search_filter")
        count = _count(conn, base, ldap.SCOPE_SUBTREE, filterstr, "group search base")
        more = "+" if count >= _PROBE_SIZE_LIMIT else ""
        found.append(f"{count}{more} groups match {filterstr} under {base}")
    named = [config.get("require_group"), *config.get("admin_groups", [])]
    for dn in filter(None, named):
        what = "require_group" if dn == config.get("require_group") else "admin group"
        _count(conn, dn, ldap.SCOPE_BASE, "(objectClass=*)", what)
    return "; ".join(found)


def test_connection(provider: IdentityProvider) -> probe.Report:
    """Probe ``provider`` step by step: dns, tcp, tls (LDAPS or StartTLS), bind (its bind DN,
    or anonymous), search (the user search base or the DN template's parent, the group base,
    require_group and admin groups exist). The first failing step says exactly what failed."""
    report = probe.Report()
    config = provider.config
    uri = config["server_uri"]
    timeout = float(config.get("timeout", 5))
    try:
        host, port, scheme = probe.host_port(uri, DEFAULT_PORTS)
    except probe.StepFailed as exc:
        report.steps.append(probe.Step("dns", False, str(exc), 0))
        return report
    settings = ldap_settings(provider)
    conn = None
    try:
        probe.check_dns(report, host, port)
        probe.check_tcp(report, host, port, timeout)
        ca_pem, verify = config.get("ca_cert", ""), config.get("verify_tls", True)
        if scheme == "ldaps":
            probe.check_tls(report, host, port, timeout, ca_pem, verify)
        elif config.get("start_tls"):
            _check_starttls(report, host, port, timeout, ca_pem, verify)

        def bind():
            nonlocal conn
            who = settings.BIND_DN or "anonymous"
            try:
                conn = open_connection(settings)
            except ldap.INVALID_CREDENTIALS as exc:
                if settings.BIND_DN:
                    raise probe.StepFailed(f"invalid credentials for {settings.BIND_DN}") from exc
                raise probe.StepFailed("the server refused an anonymous bind") from exc
            except ldap.LDAPError as exc:
                raise probe.StepFailed(f"bind as {who}: {describe_ldap_error(exc, uri)}") from exc
            return f"bound as {who}"

        report.run("bind", bind)

        def search():
            try:
                return _search_checks(conn, config)
            except ldap.INSUFFICIENT_ACCESS as exc:
                who = settings.BIND_DN or "anonymous"
                raise probe.StepFailed(f"{who} may not search: insufficient access") from exc
            except ldap.LDAPError as exc:
                raise probe.StepFailed(describe_ldap_error(exc, uri)) from exc

        report.run("search", search)
    except probe.Stop:
        pass
    finally:
        if conn is not None:
            conn.unbind_s()
    return report


# -- revalidation and sync ---------------------------------------------------------------------
def _group_state(user: User) -> tuple:
    return (frozenset(user.portal_groups.values_list("pk", flat=True)), user.is_staff)


def _check_user(provider, settings, conn, user: User, counts: Counter, notes: list) -> None:
    config = provider.config
    try:
        found = LDAPSearch(user.external_id, ldap.SCOPE_BASE, attrlist=settings.USER_ATTRLIST)
        results = found.execute(conn)
    except ldap.NO_SUCH_OBJECT:
        results = []
    except ldap.INVALID_DN_SYNTAX:
        results = []
    if not results:
        set_directory_state(
            user,
            DirectoryState.MISSING,
            detail=f"{user.external_id} no longer exists in {config['server_uri']}",
        )
        counts["missing"] += 1
        return
    dn, attrs = results[0]
    entry = _Entry(dn, attrs, conn)
    refusal = _refusal(settings, config, entry)
    if refusal:
        set_directory_state(user, DirectoryState.DISABLED, detail=refusal)
        counts["disabled"] += 1
        return
    if user.directory_state in (DirectoryState.MISSING, DirectoryState.DISABLED):
        set_directory_state(
            user, DirectoryState.PRESENT, detail=f"{dn} is listed and enabled again"
        )
    before = _group_state(user)
    try:
        provision_user(provider, read_identity(settings, config, entry))
    except EntryReplaced:
        counts["missing"] += 1  # provision_user marked the account missing
        return
    except ProvisioningRefused as exc:
        counts["errors"] += 1
        notes.append(f"{user.username}: {exc}")
        return
    user.refresh_from_db(fields=["is_staff"])
    if _group_state(user) != before:
        counts["groups_changed"] += 1
    counts["present"] += 1


def _mark_unreachable(users, detail: str, counts: Counter) -> None:
    for user in users:
        # Someone the directory already dropped stays dropped: an outage restores nobody.
        if user.directory_state not in (DirectoryState.MISSING, DirectoryState.DISABLED):
            set_directory_state(user, DirectoryState.UNREACHABLE, detail=detail)
        counts["unreachable"] += 1


def _revalidate(provider: IdentityProvider, users) -> tuple[Counter, list]:
    counts: Counter = Counter()
    notes: list[str] = []
    users = [u for u in users if u.identity_provider_id == provider.pk]
    counts["checked"] = len(users)
    if not users:
        return counts, notes
    settings = ldap_settings(provider)
    uri = provider.config["server_uri"]
    try:
        conn = open_connection(settings)
    except (ldap.LDAPError, OSError) as exc:
        detail = describe_ldap_error(exc, uri)
        notes.append(detail)
        _mark_unreachable(users, detail, counts)
        return counts, notes
    try:
        for index, user in enumerate(users):
            try:
                _check_user(provider, settings, conn, user, counts, notes)
            except _UNREACHABLE as exc:
                detail = describe_ldap_error(exc, uri)
                notes.append(detail)
                _mark_unreachable(users[index:], detail, counts)
                break
            except ldap.LDAPError as exc:
                counts["errors"] += 1
                notes.append(f"{user.username}: {describe_ldap_error(exc, uri)}")
    finally:
        try:
            conn.unbind_s()
        except ldap.LDAPError:
            pass
    return counts, notes


def revalidate(provider: IdentityProvider, users) -> None:
    """Ask the directory about each of ``users`` over one connection and record the answer:
    gone → ``missing``; matching ``user_disabled_filter`` or outside ``require_group`` →
    ``disabled`` (either ends their sessions and API keys at the next request); present →
    profile, groups and administrator flag refreshed, ``present``.

    When the server cannot be reached the batch is marked ``unreachable`` and access is
    kept: a directory outage must not lock every user out of the portal. Users the
    directory had already dropped (missing, disabled) stay refused through an outage.
    """
    _revalidate(provider, users)


def sync(provider: IdentityProvider) -> dict:
    """Revalidate every active user of ``provider`` now; the report is stored by the task in
    ``IdentityProvider.last_sync``."""
    users = list(
        User.objects.filter(Q(identity_provider=provider) & Q(is_active=True))
        .select_related("tenant", "identity_provider")
        .order_by("pk")
    )
    counts, notes = _revalidate(provider, users)
    report = {
        key: counts[key]
        for key in (
            "checked",
            "present",
            "missing",
            "disabled",
            "unreachable",
            "groups_changed",
            "errors",
        )
    }
    report["messages"] = notes[:20]
    return report
