"""Ownership is authorization: a namespace changing project (or a project starting or ceasing
to span a cluster) changes who may do what there, so every process must recompile the tenant's
rules. Signals, so the admin, the API, tasks and the shell all keep it true."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from apps.authz.enforcer import bump_version

from .models import Project, ProjectCluster, ProjectNamespace


def _owner_key(instance: ProjectNamespace) -> tuple:
    return (instance.project_id, instance.cluster_id, instance.namespace)


@receiver(post_init, sender=ProjectNamespace)
def _remember_owner(sender, instance, **kwargs):
    instance._owner_key = _owner_key(instance)


@receiver(post_save, sender=ProjectNamespace)
def _namespace_saved(sender, instance, created, **kwargs):
    if created or instance._owner_key != _owner_key(instance):
        bump_version(instance.tenant_id)
    instance._owner_key = _owner_key(instance)


@receiver(post_delete, sender=ProjectNamespace)
def _namespace_deleted(sender, instance, **kwargs):
    bump_version(instance.tenant_id)


@receiver(post_save, sender=ProjectCluster)
def _span_saved(sender, instance, created, **kwargs):
    if created:
        bump_version(instance.project.tenant_id)


@receiver(post_delete, sender=ProjectCluster)
def _span_deleted(sender, instance, **kwargs):
    bump_version(instance.project.tenant_id)


@receiver(post_save, sender=Project)
def _project_saved(sender, instance, created, **kwargs):
    if created:  # a new domain: requests on project:<name>/… are judged in it from now on
        bump_version(instance.tenant_id)


@receiver(post_delete, sender=Project)
def _project_deleted(sender, instance, **kwargs):
    bump_version(instance.tenant_id)
