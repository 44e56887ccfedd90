"""Users and groups: lists, a user's groups, bindings and keys, disable/enable, a group's
members — as ``UserViewSet`` and ``GroupViewSet`` authorize them."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.accounts import services
from apps.accounts.models import APIKey, Group, User
from apps.authz.enforcer import can_any, check, effective_statements
from apps.authz.models import Binding

from .common import AccessView, PermissionDenied, ValidationError

PAGE_SIZE = 50


def _search(queryset, text: str, *fields):
    text = text.strip()[:100].replace("\x00", "")
    if not text:
        return queryset
    query = Q()
    for field in fields:
        query |= Q(**{f"{field}__icontains": text})
    return queryset.filter(query)


class UsersView(AccessView):
    template_name = "console/access/users.html"
    authz_action = "listUsers"
    title = _("Users")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        q = self.request.GET.get("q", "")
        rows = _search(
            self.visible(User.objects.select_related("identity_provider"), "listUsers"),
            q,
            "username",
            "display_name",
            "email",
        ).order_by("username")
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(page=page, users=page.object_list, q=q)
        return context


class UserView(AccessView):
    template_name = "console/access/user.html"
    authz_action = "getUser"

    def subject(self):
        user = self.get_visible(
            User.objects.select_related("identity_provider", "tenant"),
            "getUser",
            pk=self.kwargs["pk"],
        )
        return user

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        viewer = self.request.user
        user = kwargs.get("subject") or self.subject()
        self.authorize_object("getUser", user, owner=user)
        groups = bindings = None
        if can_any(viewer, "listGroups"):
            groups = list(self.visible(Group.objects.filter(members=user), "listGroups"))
        if can_any(viewer, "listBindings"):
            bindings = list(
                self.visible(
                    Binding.objects.filter(Q(user=user) | Q(group__members=user)).distinct(),
                    "listBindings",
                ).select_related("user", "group", "policy", "role")
            )
        keys = list(
            self.visible(APIKey.objects.filter(user=user), "listAPIKeys").select_related(
                "user", "cluster"
            )
        )

        def may(action, owner=None):
            return bool(
                check(
                    viewer, action, user.authz_resource, tenant=user.tenant, owner=owner, obj=user
                )
            )

        # The API's GET users/<name>/permissions/: what they hold platform-wide, and how.
        permissions = effective_statements(user) if may("listUserPermissions", owner=user) else None

        context.update(
            title=user.display_name or user.username,
            subject=user,
            groups=groups,
            bindings=bindings,
            keys=keys,
            permissions=permissions,
            may_disable=user.is_active and user.pk != viewer.pk and may("disableUser"),
            may_enable=not user.is_active and may("enableUser"),
        )
        return context


class UserActiveView(UserView):
    """POST: disable or enable a user (``disableUser`` / ``enableUser``), through
    ``services.update_user`` like the API: their sign-in and every key stop or start."""

    http_method_names = ["post"]
    active = False

    def post(self, request, *args, **kwargs):
        user = self.subject()
        self.authorize_object("enableUser" if self.active else "disableUser", user, owner=user)
        try:
            services.update_user(actor=request.user, user=user, is_active=self.active)
        except (ValidationError, PermissionDenied) as exc:
            user.refresh_from_db()
            return self.failed(exc, subject=user)
        return self.redirect(reverse("console:user", args=[user.pk]))


class GroupsView(AccessView):
    template_name = "console/access/groups.html"
    authz_action = "listGroups"
    title = _("Groups")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = (
            self.visible(Group.objects.select_related("identity_provider"), "listGroups")
            .annotate(member_count=Count("members", distinct=True))
            .order_by("name")
        )
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(page=page, groups=page.object_list)
        return context


class GroupView(AccessView):
    template_name = "console/access/group.html"
    authz_action = "getGroup"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.get_visible(Group.objects, "getGroup", name=self.kwargs["name"])
        self.authorize_object("getGroup", group)
        members = list(group.members.order_by("username").only("id", "username", "display_name"))
        bindings = None
        if can_any(self.request.user, "listBindings"):
            bindings = list(
                self.visible(group.bindings.all(), "listBindings").select_related(
                    "group", "policy", "role"
                )
            )
        context.update(
            title=group.display_name or group.name,
            group=group,
            members=members,
            bindings=bindings,
            may_edit=bool(
                check(
                    self.request.user,
                    "updateGroup",
                    group.authz_resource,
                    tenant=group.tenant,
                    obj=group,
                )
            ),
            member_form=kwargs.get("member_form") or {},
        )
        return context


class GroupMembersView(GroupView):
    """POST: add or remove one member (``updateGroup`` with the new member list, as the
    API's PATCH; the service refuses adding someone to a group whose bindings the actor
    does not hold, and removing a member whose deny the actor could not lift)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        group = self.get_visible(Group.objects, "getGroup", name=kwargs["name"])
        self.authorize_object("updateGroup", group)
        op = request.POST.get("op")
        username = request.POST.get("username", "").strip()[:63].replace("\x00", "")
        form = {"username": username}
        current = list(group.members.all())
        user = User.objects.filter(tenant=group.tenant, username=username).first()
        try:
            if op not in ("add", "remove"):
                raise ValidationError({"op": ["Use add or remove."]})
            if user is None:
                raise ValidationError({"username": [f"No user named '{username}'."]})
            if op == "add":
                members = [*current, user] if user not in current else current
            else:
                members = [member for member in current if member.pk != user.pk]
            services.update_group(actor=request.user, group=group, members=members)
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, member_form=form)
        return self.redirect(reverse("console:group", args=[group.name]))
