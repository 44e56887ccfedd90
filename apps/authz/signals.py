"""Any change to who holds what bumps the tenant's policy version, in every process."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import Group

from .enforcer import bump_version
from .models import Binding, Policy, Role


@receiver(post_save, sender=Policy)
@receiver(post_delete, sender=Policy)
@receiver(post_save, sender=Role)
@receiver(post_delete, sender=Role)
@receiver(post_save, sender=Binding)
@receiver(post_delete, sender=Binding)
@receiver(post_save, sender=Group)
@receiver(post_delete, sender=Group)
def _rules_changed(sender, instance, **kwargs):
    bump_version(instance.tenant_id)


@receiver(m2m_changed, sender=Role.policies.through)
@receiver(m2m_changed, sender=Group.members.through)
def _membership_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    # Either side (group.members.add(user) or user.portal_groups.add(group)) belongs to the
    # same tenant, so the instance's tenant is the one to bump.
    if action.startswith("post_") and instance.tenant_id is not None:
        bump_version(instance.tenant_id)
