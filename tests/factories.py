"""One factory per model. Passwords are set through Django's hasher (MD5 in tests)."""

from datetime import timedelta

import factory

from apps.accounts import services as account_services
from apps.accounts.models import Group, User
from apps.tenants.models import Tenant

PASSWORD = "Correct-horse-9"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    display_name = factory.LazyAttribute(lambda o: o.slug.title())


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


def make_api_key(user, expires_in=timedelta(hours=1), description="test"):
    """A real key through the service; returns (row, plaintext)."""
    return account_services.create_api_key(
        actor=user, user=user, expires_in=expires_in, description=description
    )
