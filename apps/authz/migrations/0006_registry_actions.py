"""The registry's actions: tags (``listTags``, ``watchTags``, ``getTag``, ``deleteTag`` on
``registrynamespace:<ns>/repository:<repo>/tag:<tag>``; ``deleteTag`` is what the registry
token service grants for a ``delete`` scope) and ``listRegistryCatalog`` (the registry's
catalog of every tenant's repositories, judged at platform level: the platform administrator
only, whatever a tenant's policies say).

Stored policies keep their meaning (``_predefined.keep_meaning``): a tenant's own allow
statement whose wildcard now reaches a tag action without holding the matching repository
action is spelled out; a deny of the repository action also denies the tag action. Then every
tenant's predefined policies are brought up to date (the ``registry`` area grants hold the tag
actions) and its policy version bumped. One-way."""

from __future__ import annotations

from django.db import migrations

from ._predefined import keep_meaning, refresh_predefined

# new action → the action that used to cover the same requests (a repository's tags are read
# with it and go with it)
NEW = {
    "listTags": "listRepositories",
    "watchTags": "watchRepositories",
    "getTag": "getRepository",
    "deleteTag": "deleteRepository",
}


def forward(apps, schema_editor):
    keep_meaning(apps, NEW)
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0005_exec_node")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
