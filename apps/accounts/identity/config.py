"""What each provider type's ``config`` holds, validated once for the API and the admin.

The one secret of a provider (LDAP bind password, OIDC client secret) is not part of
``config``: it is ``IdentityProvider.secret``, encrypted at rest and never returned.

Group settings are common to directories: ``mirror_groups`` (every directory group the user
is in becomes a portal group of the same name), ``group_mapping`` (directory group → portal
group name, for groups whose names differ), ``admin_groups`` (members are tenant
administrators; when set, the directory decides who is one among its users).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from ..choices import ProviderType


class GroupSyncConfig(serializers.Serializer):
    mirror_groups = serializers.BooleanField(
        default=False,
        help_text="Mirror every directory group the user belongs to as a portal group.",
    )
    group_mapping = serializers.DictField(
        child=serializers.CharField(max_length=63),
        default=dict,
        help_text="Directory group (LDAP DN or OIDC claim value) → portal group name.",
    )
    admin_groups = serializers.ListField(
        child=serializers.CharField(max_length=512),
        default=list,
        help_text="Members of these directory groups are tenant administrators.",
    )

    def validate_group_mapping(self, value):
        from ..models import username_validator

        for external, name in value.items():
            try:
                username_validator(name)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(
                    f"'{external}' → '{name}': not a valid portal group name"
                ) from exc
        return value


def _url(value: str, schemes: tuple[str, ...], field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise serializers.ValidationError(
            f"{field} must be a {' or '.join(s + '://' for s in schemes)} URL with a host"
        )
    return value


class LDAPConfig(GroupSyncConfig):
    GROUP_TYPES = ("group_of_names", "group_of_unique_names", "posix_group", "member_dn")

    server_uri = serializers.CharField(
        max_length=512, help_text="ldap://host:389 or ldaps://host:636."
    )
    start_tls = serializers.BooleanField(default=False, help_text="StartTLS on an ldap:// URI.")
    ca_cert = serializers.CharField(
        default="", allow_blank=True, help_text="PEM CA bundle to verify the server with."
    )
    verify_tls = serializers.BooleanField(default=True)
    bind_dn = serializers.CharField(
        default="", allow_blank=True, max_length=512, help_text="Empty: anonymous bind."
    )
    user_search_base = serializers.CharField(default="", allow_blank=True, max_length=512)
    user_search_filter = serializers.CharField(default="(uid=%(user)s)", max_length=512)
    user_dn_template = serializers.CharField(
        default="",
        allow_blank=True,
        max_length=512,
        help_text="Instead of a search: e.g. uid=%(user)s,ou=people,dc=example,dc=org.",
    )
    user_disabled_filter = serializers.CharField(
        default="",
        allow_blank=True,
        max_length=512,
        help_text="Users matching this filter count as disabled, e.g. (pwdAccountLockedTime=*).",
    )
    username_attr = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9-]{0,63}$",
        default="",
        allow_blank=True,
        help_text="Entry attribute holding the portal username (empty: the attribute "
        "compared with %(user)s in the filter or DN template, else uid).",
    )
    attr_map = serializers.DictField(
        child=serializers.CharField(max_length=128),
        default=lambda: {"display_name": "cn", "email": "mail"},
        help_text="Portal field (display_name, email, phone) → LDAP attribute.",
    )
    group_search_base = serializers.CharField(default="", allow_blank=True, max_length=512)
    group_search_filter = serializers.CharField(default="(objectClass=*)", max_length=512)
    group_type = serializers.ChoiceField(choices=GROUP_TYPES, default="group_of_names")
    require_group = serializers.CharField(
        default="", allow_blank=True, max_length=512, help_text="Only its members may sign in."
    )
    timeout = serializers.IntegerField(default=5, min_value=1, max_value=60)

    def validate_server_uri(self, value):
        if any(c.isspace() or c == "," for c in value.strip()):
            # libldap would take a list of servers; "test connection" and the address
            # checks are about one.
            raise serializers.ValidationError("One ldap:// or ldaps:// URI (no list).")
        return _url(value.strip(), ("ldap", "ldaps"), "server_uri")

    def validate_attr_map(self, value):
        unknown = set(value) - {"display_name", "email", "phone"}
        if unknown:
            raise serializers.ValidationError(
                f"unknown portal field(s): {', '.join(sorted(unknown))}"
            )
        return value

    def validate(self, attrs):
        if bool(attrs.get("user_search_base")) == bool(attrs.get("user_dn_template")):
            raise serializers.ValidationError(
                {"user_search_base": "Set exactly one of user_search_base or user_dn_template."}
            )
        if attrs.get("user_dn_template") and "%(user)s" not in attrs["user_dn_template"]:
            raise serializers.ValidationError({"user_dn_template": "Must contain %(user)s."})
        if attrs.get("user_search_base") and "%(user)s" not in attrs["user_search_filter"]:
            raise serializers.ValidationError({"user_search_filter": "Must contain %(user)s."})
        needs_groups = (
            attrs.get("mirror_groups")
            or attrs.get("group_mapping")
            or attrs.get("admin_groups")
            or attrs.get("require_group")
        )
        if needs_groups and not attrs.get("group_search_base"):
            raise serializers.ValidationError(
                {"group_search_base": "Needed for group mirroring, mapping or admin groups."}
            )
        if attrs.get("start_tls") and attrs["server_uri"].lower().startswith("ldaps:"):
            raise serializers.ValidationError(
                {"start_tls": "StartTLS is for ldap:// URIs; ldaps:// is TLS already."}
            )
        return attrs


class OIDCConfig(GroupSyncConfig):
    issuer = serializers.CharField(
        max_length=512, help_text="The issuer URL; its /.well-known/openid-configuration is read."
    )
    client_id = serializers.CharField(max_length=255)
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=64), default=lambda: ["openid", "email", "profile"]
    )
    username_claim = serializers.CharField(default="preferred_username", max_length=64)
    groups_claim = serializers.CharField(
        default="groups", allow_blank=True, max_length=64, help_text="Empty: no group sync."
    )
    allowed_email_domains = serializers.ListField(
        child=serializers.CharField(max_length=255),
        default=list,
        help_text="Empty: any. Otherwise the verified email must be in one of these domains.",
    )
    sign_algo = serializers.ChoiceField(
        choices=("RS256", "RS384", "RS512", "ES256", "ES384", "PS256"), default="RS256"
    )
    verify_kid = serializers.BooleanField(
        default=True,
        help_text="Match the token's kid against the JWKS (off for providers without kid).",
    )
    use_pkce = serializers.BooleanField(default=True)
    verify_tls = serializers.BooleanField(default=True)
    ca_cert = serializers.CharField(default="", allow_blank=True)
    end_session = serializers.BooleanField(
        default=True, help_text="Sign out at the provider too, when it offers end_session."
    )
    timeout = serializers.IntegerField(default=5, min_value=1, max_value=60)

    def validate_issuer(self, value):
        return _url(value, ("https", "http"), "issuer").rstrip("/")

    def validate_scopes(self, value):
        if "openid" not in value:
            raise serializers.ValidationError("Must include 'openid'.")
        return value


CONFIGS: dict[str, type[serializers.Serializer] | None] = {
    ProviderType.LOCAL: None,
    ProviderType.LDAP: LDAPConfig,
    ProviderType.OIDC: OIDCConfig,
}


def validate_config(provider_type: str, data) -> dict:
    """The complete config (defaults filled in) for ``provider_type``, or a DRF
    ValidationError whose keys are ``config.<field>``."""
    serializer_class = CONFIGS.get(provider_type)
    if serializer_class is None:
        if data:
            raise serializers.ValidationError({"config": "Local accounts take no settings."})
        return {}
    if not isinstance(data, dict):
        raise serializers.ValidationError({"config": "Must be an object."})
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError(
            {f"config.{name}": errors for name, errors in serializer.errors.items()}
        )
    return dict(serializer.validated_data)
