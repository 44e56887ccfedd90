"""People and credentials: users (one tenant each), tenant groups, API keys."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedManager, TenantScopedModel, TenantScopedQuerySet
from apps.core.paths import path_expression

from .choices import DirectoryState, ProviderType, UserSource

username_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9._@-]{0,62}$",
    "Use up to 63 lowercase letters, digits and . _ @ -, starting with a letter or digit.",
)


class PortalUserManager(UserManager.from_queryset(TenantScopedQuerySet)):
    """Django's user manager plus tenant scoping and tenant-qualified natural keys.

    Sign-in names are ``<tenant>/<username>``; a bare ``<username>`` means a platform
    administrator, or the only user of that name in any tenant.
    """

    def get_by_natural_key(self, username):
        if "/" in username:
            slug, _, name = username.partition("/")
            return self.get(tenant__slug=slug, username=name)
        platform = self.filter(username=username, tenant__isnull=True).first()
        if platform is not None:
            return platform
        return self.get(username=username)


class User(AbstractUser):
    """A person (or robot) signing in to the portal. Belongs to one tenant; a platform
    administrator (superuser) may have no tenant and acts in every tenant.

    Usernames are unique per tenant, so two tenants may both have an ``alice``.
    """

    username = models.CharField(max_length=63, validators=[username_validator])
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        help_text="Empty only for platform administrators.",
    )
    display_name = models.CharField(max_length=128, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=16, choices=UserSource.choices, default=UserSource.LOCAL)
    # Directory-backed users (source ldap/oidc): who vouches for them and under what stable id
    # (the LDAP entry's DN, the OIDC ``sub``). PROTECT: a provider with users is disabled, not
    # deleted, so nobody is silently turned into a local account.
    identity_provider = models.ForeignKey(
        "accounts.IdentityProvider",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    external_id = models.CharField(max_length=512, blank=True)
    # The directory entry's own permanent id where it has one (LDAP entryUUID / objectGUID):
    # an entry deleted and re-created under the same DN is another person, not this user.
    external_uid = models.CharField(max_length=64, blank=True, editable=False)
    directory_state = models.CharField(
        max_length=16, choices=DirectoryState.choices, blank=True, default=""
    )
    directory_checked_at = models.DateTimeField(null=True, blank=True)
    # OIDC: the refresh token of the user's last sign-in, encrypted, so the provider can be
    # asked later whether the grant still stands (revoked or disabled → access ends).
    directory_grant = EncryptedTextField(blank=True, editable=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    must_change_password = models.BooleanField(
        default=False, help_text="Set by an administrator's reset: the next sign-in must change it."
    )

    objects = PortalUserManager()

    # Usernames are not globally unique; django.contrib.auth's check is silenced in settings
    # and sign-in goes through tenant-aware backends.
    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "username"], name="accounts_user_unique_username_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["username"],
                condition=Q(tenant__isnull=True),
                name="accounts_user_unique_platform_username",
            ),
            models.CheckConstraint(
                condition=Q(tenant__isnull=False) | Q(is_superuser=True),
                name="accounts_user_tenant_required_unless_platform_admin",
            ),
            models.UniqueConstraint(
                fields=["identity_provider", "external_id"],
                condition=Q(identity_provider__isnull=False) & ~Q(external_id=""),
                name="accounts_user_unique_external_id_per_provider",
            ),
        ]

    def __str__(self) -> str:
        return self.username if self.tenant_id is None else f"{self.tenant}/{self.username}"

    @property
    def vouched_for(self) -> bool:
        """May a directory-backed user act? (Local users: always.) See
        :meth:`directory_refusal`."""
        return not self.directory_refusal()

    def directory_refusal(self) -> str:
        """Why the user's identity provider no longer vouches for them ('' when it does, and
        for local users): the directory said they are gone or disabled; the provider is
        disabled; or — an OIDC provider that gave no refresh token to re-check them with —
        their last sign-in through it is older than ``PORTAL_OIDC_UNVERIFIED_MAX_AGE``
        (revalidation cannot see such a user disabled at the provider, so what they signed in
        with is trusted for a bounded time only; signing in there again renews it)."""
        if self.identity_provider_id is None:
            return ""
        provider = self.identity_provider
        if self.directory_state in (DirectoryState.MISSING, DirectoryState.DISABLED):
            return f"removed or disabled in identity provider '{provider.name}'"
        if not provider.enabled:
            return f"identity provider '{provider.name}' is disabled"
        if provider.type == ProviderType.OIDC and not self.directory_grant:
            max_age = settings.PORTAL_OIDC_UNVERIFIED_MAX_AGE
            confirmed = self.directory_checked_at
            if confirmed is None or timezone.now() - confirmed > timedelta(seconds=max_age):
                from .sessions import describe_duration

                return (
                    f"identity provider '{provider.name}' issued no refresh token to re-check "
                    f"the user with, and their last sign-in through it is more than "
                    f"{describe_duration(max_age)} old: sign in through it again"
                )
        return ""

    @property
    def authz_resource(self) -> str:
        return f"user:{self.username}"

    @staticmethod
    def authz_path_expression():
        return path_expression("user:", "username")

    @property
    def is_tenant_admin(self) -> bool:
        """Holds the administrator policy platform-wide (or is the platform administrator)."""
        from apps.authz.services import is_administrator

        return is_administrator(self)

    @property
    def authz_subject(self) -> str:
        """The Casbin-style subject: ``<tenant>##user##<name>``."""
        tenant = self.tenant.slug if self.tenant_id else "*"
        return f"{tenant}##user##{self.username}"


class Group(TenantScopedModel):
    """A tenant's group of users; policies bound to a group apply to its members.
    LDAP and OIDC groups are mirrored onto these."""

    name = models.CharField(max_length=63, validators=[username_validator])
    display_name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, related_name="portal_groups", blank=True)
    source = models.CharField(max_length=16, choices=UserSource.choices, default=UserSource.LOCAL)
    # Set for groups mirrored from a directory: their memberships are rewritten at every
    # sign-in and sync from what the provider says (the group's DN, or the OIDC claim value).
    identity_provider = models.ForeignKey(
        "accounts.IdentityProvider",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="groups",
    )
    external_id = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="accounts_group_unique_name_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"

    @property
    def authz_resource(self) -> str:
        return f"group:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("group:", "name")


class APIKeyQuerySet(TenantScopedQuerySet):
    def usable(self):
        return self.filter(disabled=False, expires_at__gt=timezone.now())


class APIKey(TenantScopedModel):
    """An access credential with a validity period (TKEStack's APIKey). Acts with its owner's
    permissions, never more. Only a SHA-256 digest of the secret is stored: the plaintext is
    shown once, at creation.

    A key with a ``cluster`` was minted for a kubeconfig: it works only for kubectl through
    the portal's proxy to that cluster and for that cluster's kubeconfig endpoint, not for
    the rest of the REST API. ``disabled_by`` remembers who disabled a key, so an owner
    cannot undo an administrator's disable.
    """

    # Empty for a platform administrator's keys, like the user's own tenant.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    description = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField()
    disabled = models.BooleanField(default=False)
    disabled_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who disabled the key (empty: not disabled, or disabled by an operator).",
    )
    cluster = models.ForeignKey(
        "clusters.Cluster",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set for kubeconfig keys: usable only for kubectl on this cluster.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = models.Manager.from_queryset(APIKeyQuerySet)()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def allows_cluster(self, cluster_name: str) -> bool:
        """May this key be used for ``cluster_name``'s proxy and kubeconfig endpoint? (Every
        unlimited key may; a kubeconfig key only for its own cluster.)"""
        return self.cluster_id is None or self.cluster.name == cluster_name

    @property
    def authz_resource(self) -> str:
        return f"user:{self.user.username}/apikey:{self.prefix}"

    @staticmethod
    def authz_path_expression():
        return path_expression("user:", "user__username", "/apikey:", "prefix")


class IdentityProvider(TenantScopedModel):
    """One way users of a tenant sign in: local accounts, an LDAP directory
    (django-auth-ldap) or an OpenID Connect provider (mozilla-django-oidc).

    ``config`` holds the type's settings (validated by ``apps.accounts.identity.config``);
    ``secret`` the one secret (LDAP bind password, OIDC client secret), encrypted at rest
    and never returned. A tenant with no local provider row signs in with local accounts
    too; a disabled local row turns password sign-in with local accounts off.

    Users a directory provider created point at it (``User.identity_provider``); while the
    provider is disabled, they cannot sign in and their sessions and API keys stop working.
    """

    name = models.CharField(
        max_length=63,
        validators=[
            RegexValidator(
                r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$",
                "Use lowercase letters, digits and hyphens, starting with a letter.",
            )
        ],
    )
    display_name = models.CharField(
        max_length=128, blank=True, help_text='Shown on the sign-in page ("Sign in with …").'
    )
    type = models.CharField(max_length=8, choices=ProviderType.choices)
    enabled = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower first: the order on the sign-in page and of LDAP lookups."
    )
    config = models.JSONField(default=dict, blank=True)
    secret = EncryptedTextField(blank=True)
    # OIDC: the issuer's discovery document as last fetched (endpoints, algorithms).
    discovery = models.JSONField(default=dict, blank=True, editable=False)
    last_test = models.JSONField(default=dict, blank=True, editable=False)
    last_sync = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="accounts_identityprovider_unique_name_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(type="local"),
                name="accounts_identityprovider_one_local_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def authz_resource(self) -> str:
        return f"identityprovider:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("identityprovider:", "name")


class PortalSession(AbstractBaseSession):
    """A console session (Django's database session plus whose it is). ``user`` is written
    from the session's signed-in user at every save, so ending someone's sessions (password
    change, administrator reset) is one indexed lookup instead of decoding every session in
    the table; deleting the user deletes their sessions. ``SESSION_ENGINE`` is
    ``apps.accounts.session_store``."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=True
    )

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"

    @classmethod
    def get_session_store_class(cls):
        from .session_store import SessionStore

        return SessionStore
