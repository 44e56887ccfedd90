"""One factory per model. Passwords are set through Django's hasher (MD5 in tests)."""

from datetime import timedelta

import factory

from apps.accounts import services as account_services
from apps.accounts.models import Group, User
from apps.authz.models import Binding, Policy
from apps.authz.services import ensure_predefined_policies
from apps.tenants.models import Tenant

PASSWORD = "Correct-horse-9"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    display_name = factory.LazyAttribute(lambda o: o.slug.title())

    @factory.post_generation
    def predefined_policies(self, create, extracted, **kwargs):
        if create:
            ensure_predefined_policies(self)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    display_name = factory.LazyAttribute(lambda o: o.username.title())

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"group{n}")


def bind(subject, policy_name: str, domain: str = "*"):
    """Bind a predefined (or existing) policy to a user or group, as the operator would."""
    from apps.accounts.models import Group as PortalGroup

    policy = Policy.objects.get(tenant=subject.tenant, name=policy_name)
    field = "group" if isinstance(subject, PortalGroup) else "user"
    return Binding.objects.create(
        tenant=subject.tenant, policy=policy, domain=domain, **{field: subject}
    )


def make_api_key(user, expires_in=timedelta(hours=1), description="test"):
    """A real key through the service; returns (row, plaintext)."""
    return account_services.create_api_key(
        actor=user, user=user, expires_in=expires_in, description=description
    )


def make_identity_provider(tenant, name="corp-ldap", type="ldap", config=None, secret="", **kw):
    """An identity provider row with a valid config for its type (no server behind it)."""
    from apps.accounts.identity.config import validate_config
    from apps.accounts.models import IdentityProvider

    defaults = {
        "ldap": {
            "server_uri": "ldap://127.0.0.1:1",
            "user_dn_template": "uid=%(user)s,ou=people,dc=example,dc=org",
        },
        "oidc": {"issuer": "http://127.0.0.1:1", "client_id": "portal"},
        "local": {},
    }[type]
    return IdentityProvider.objects.create(
        tenant=tenant,
        name=name,
        type=type,
        config=validate_config(type, config if config is not None else defaults),
        secret=secret,
        **kw,
    )


def make_cluster(tenant, display_name=None, server="https://127.0.0.1:9"):
    """A cluster row without a reachable API server (for permission tests)."""
    from apps.clusters.models import Cluster, ClusterCredential

    cluster = Cluster.objects.create(
        tenant=tenant, display_name=display_name or f"c{Cluster.objects.count()}", server=server
    )
    ClusterCredential.objects.create(cluster=cluster, token="seeded-token-value")
    return cluster
