"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
access management. Creation lives under ``access/new/…`` so no object's name ("new") is
shadowed by a create page."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views.access import identity, keys, policies, users

urlpatterns = [
    path("access/users/", users.UsersView.as_view(), name="users"),
    path("access/users/<int:pk>/", users.UserView.as_view(), name="user"),
    path(
        "access/users/<int:pk>/disable/",
        users.UserActiveView.as_view(active=False),
        name="user-disable",
    ),
    path(
        "access/users/<int:pk>/enable/",
        users.UserActiveView.as_view(active=True),
        name="user-enable",
    ),
    path("access/groups/", users.GroupsView.as_view(), name="groups"),
    path("access/groups/<str:name>/", users.GroupView.as_view(), name="group"),
    path(
        "access/groups/<str:name>/members/",
        users.GroupMembersView.as_view(),
        name="group-members",
    ),
    path("access/api-keys/", keys.APIKeysView.as_view(), name="api-keys"),
    path("access/new/api-key/", keys.APIKeyCreateView.as_view(), name="api-key-create"),
    path(
        "access/api-keys/<int:pk>/revoke/",
        keys.APIKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
    path("access/policies/", policies.PoliciesView.as_view(), name="policies"),
    path("access/new/policy/", policies.PolicyEditorView.as_view(), name="policy-new"),
    path("access/policies/<str:name>/", policies.PolicyView.as_view(), name="policy"),
    path(
        "access/policies/<str:name>/edit/",
        policies.PolicyEditorView.as_view(creating=False),
        name="policy-edit",
    ),
    path("access/roles/", policies.RolesView.as_view(), name="roles"),
    path("access/new/role/", policies.RoleEditorView.as_view(), name="role-new"),
    path("access/roles/<str:name>/", policies.RoleView.as_view(), name="role"),
    path(
        "access/roles/<str:name>/edit/",
        policies.RoleEditorView.as_view(creating=False),
        name="role-edit",
    ),
    path("access/bindings/", policies.BindingsView.as_view(), name="bindings"),
    path("access/new/binding/", policies.BindingCreateView.as_view(), name="binding-create"),
    path(
        "access/bindings/<int:pk>/delete/",
        policies.BindingDeleteView.as_view(),
        name="binding-delete",
    ),
    path(
        "access/identity-providers/",
        identity.IdentityProvidersView.as_view(),
        name="identity-providers",
    ),
    path(
        "access/identity-providers/<str:name>/",
        identity.IdentityProviderView.as_view(),
        name="identity-provider",
    ),
    path(
        "access/identity-providers/<str:name>/test/",
        identity.IdentityProviderTestView.as_view(),
        name="identity-provider-test",
    ),
    path(
        "access/identity-providers/<str:name>/sync/",
        identity.IdentityProviderSyncView.as_view(),
        name="identity-provider-sync",
    ),
]
NAV = [
    Section(
        "access",
        _("Access"),
        (
            Entry(
                _("Users"), "console:users", "listUsers", also=("console:user", "console:user-*")
            ),
            Entry(
                _("Groups"),
                "console:groups",
                "listGroups",
                also=("console:group", "console:group-*"),
            ),
            Entry(_("API keys"), "console:api-keys", "listAPIKeys", also=("console:api-key-*",)),
            Entry(
                _("Policies"),
                "console:policies",
                "listPolicies",
                also=("console:policy", "console:policy-*"),
            ),
            Entry(
                _("Roles"), "console:roles", "listRoles", also=("console:role", "console:role-*")
            ),
            Entry(_("Bindings"), "console:bindings", "listBindings", also=("console:binding-*",)),
            Entry(
                _("Identity providers"),
                "console:identity-providers",
                "listIdentityProviders",
                also=("console:identity-provider", "console:identity-provider-*"),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
