"""Who is calling and which cluster: one fixed SQL statement per request, ORM only on change.

Authenticating the key and finding the cluster through the ORM took two queries whose
compilation and row decoding cost ~1.5 ms of CPU per proxied request — more than anything
else the proxy did. Here each request runs one hand-written statement that returns a
*fingerprint*: every column the proxy's decision reads (the key's state, its user's, the
tenant's, its policy version, the cluster's address and a digest of its credential). When the
fingerprint equals the one stored with the objects loaded for the same key and cluster, those
objects are reused; otherwise they are loaded again through the ORM exactly as before.

Nothing is decided from the cache: the key's checks (:func:`authenticate_api_key`: digest,
disabled, expiry, user and tenant active, the user's identity provider still vouching for them,
last-used stamp) and the policy decision run on every request, on objects whose deciding
columns were just read from the database. So disabling a key, a user, their identity provider
or a tenant, the directory dropping the user, a policy change (``authz_version``), a credential
rotation or a cluster's deletion take effect on the very next request, in every process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.db import connection

from apps.accounts import keys
from apps.accounts.authentication import authenticate_api_key
from apps.accounts.models import APIKey, IdentityProvider, User
from apps.clusters.models import Cluster, ClusterCredential
from apps.tenants.models import Tenant

CACHE_SIZE = 1024
# Cluster columns the proxy reads (the inventory's JSON columns cost more to decode than the
# rest of the decision).
CLUSTER_FIELDS = (
    "id",
    "name",
    "server",
    "tenant_id",
    *(f"credential__{f}" for f in ("id", "cluster_id", "ca_data", "token", "client_cert")),
    *(f"credential__{f}" for f in ("client_key", "insecure_skip_tls_verify", "impersonate_user")),
    "credential__impersonate_groups",
)

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], tuple[tuple, APIKey, Cluster | None]] = OrderedDict()
_sql: str | None = None


def _fingerprint_sql() -> str:
    """Built from the models' own table and column names (once)."""
    k, u, t, ip = APIKey._meta, User._meta, Tenant._meta, IdentityProvider._meta
    c, cc = Cluster._meta, ClusterCredential._meta

    def col(meta, field: str) -> str:
        return connection.ops.quote_name(meta.get_field(field).column)

    def table(meta) -> str:
        return connection.ops.quote_name(meta.db_table)

    credential = ", ".join(
        f"cc.{col(cc, f)}::text"
        for f in (
            "token",
            "ca_data",
            "client_cert",
            "client_key",
            "insecure_skip_tls_verify",
            "impersonate_user",
            "impersonate_groups",
        )
    )
    # Identifiers only, from the models' metadata and quoted; the values are parameters.
    return (
        "SELECT "  # noqa: S608
        f"k.{col(k, 'id')}, k.{col(k, 'digest')}, k.{col(k, 'disabled')}, "
        f"k.{col(k, 'expires_at')}, k.{col(k, 'user')}, k.{col(k, 'cluster')}, "
        f"u.{col(u, 'is_active')}, u.{col(u, 'is_superuser')}, u.{col(u, 'tenant')}, "
        f"u.{col(u, 'username')}, u.{col(u, 'directory_state')}, ip.{col(ip, 'enabled')}, "
        f"t.{col(t, 'is_active')}, t.{col(t, 'authz_version')}, t.{col(t, 'slug')}, "
        f"c.{col(c, 'id')}, c.{col(c, 'name')}, c.{col(c, 'server')}, c.{col(c, 'tenant')}, "
        f"md5(concat_ws('|', {credential})) "
        f"FROM {table(k)} k "
        f"JOIN {table(u)} u ON u.{col(u, 'id')} = k.{col(k, 'user')} "
        f"LEFT JOIN {table(t)} t ON t.{col(t, 'id')} = u.{col(u, 'tenant')} "
        f"LEFT JOIN {table(ip)} ip ON ip.{col(ip, 'id')} = u.{col(u, 'identity_provider')} "
        f"LEFT JOIN {table(c)} c ON c.{col(c, 'name')} = %s "
        f"AND (u.{col(u, 'is_superuser')} OR c.{col(c, 'tenant')} = u.{col(u, 'tenant')}) "
        f"LEFT JOIN {table(cc)} cc ON cc.{col(cc, 'cluster')} = c.{col(c, 'id')} "
        f"WHERE k.{col(k, 'prefix')} = %s LIMIT 1"
    )


def _fingerprint(prefix: str, cluster_name: str) -> tuple | None:
    global _sql
    if _sql is None:
        _sql = _fingerprint_sql()
    with connection.cursor() as cursor:
        cursor.execute(_sql, [cluster_name, prefix])
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def key_and_cluster(token: str, client_ip: str | None, cluster_name: str):
    """(the authenticated key, the cluster named ``cluster_name`` visible to its user or
    None). Raises ``AuthenticationFailed`` like :func:`authenticate_api_key`."""
    if connection.vendor != "postgresql":
        # The statement is PostgreSQL's (casts, md5, concat_ws): elsewhere (SQLite, the
        # embedded default of `make run`) every request takes the ORM path.
        key = authenticate_api_key(token, client_ip)
        return key, load_cluster(key.user, cluster_name)
    prefix = keys.split(token)
    fingerprint = _fingerprint(prefix, cluster_name) if prefix is not None else None
    if fingerprint is None:  # malformed or unknown key: the ORM path says which
        return authenticate_api_key(token, client_ip), None
    slot = (keys.digest_of(token), cluster_name)
    with _lock:
        cached = _cache.get(slot)
        if cached is not None:
            _cache.move_to_end(slot)
    if cached is not None and cached[0] == fingerprint:
        key, cluster = cached[1], cached[2]
        return authenticate_api_key(token, client_ip, key=key), cluster
    key = authenticate_api_key(token, client_ip)
    cluster = load_cluster(key.user, cluster_name)
    with _lock:
        _cache[slot] = (fingerprint, key, cluster)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return key, cluster


def load_cluster(user, cluster_name: str) -> Cluster | None:
    """The cluster ``user`` may address by name (any tenant's for a platform administrator)."""
    clusters = (
        Cluster.objects.select_related("credential").only(*CLUSTER_FIELDS).filter(name=cluster_name)
    )
    if not user.is_superuser:
        clusters = clusters.filter(tenant_id=user.tenant_id)
    cluster = next(iter(clusters.order_by()[:1]), None)  # unique name: no ORDER BY needed
    if cluster is not None:
        cluster.tenant = (
            user.tenant
            if cluster.tenant_id == user.tenant_id
            else Tenant.objects.get(pk=cluster.tenant_id)
        )
    return cluster


def forget_all() -> None:
    with _lock:
        _cache.clear()
