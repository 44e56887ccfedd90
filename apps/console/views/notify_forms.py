"""The notify console's forms: channels (per kind, secrets write-only), a channel's templates
(with a preview through the notify sandbox), receivers and receiver groups; create, edit and
delete (a confirmation page, so it works without JavaScript).

Authorized like the REST API (``apps/notify/api/``) with its action names: an object the user
may not get (``getNotifyChannel``…), or another tenant's, is 404; then ``create…`` /
``update…`` / ``delete…`` on the object's path (the console's 403 page). Every write goes
through :mod:`apps.notify.services`; the audit middleware records it under the action and
resource named here. The service's validation errors are shown next to their fields.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.authz.enforcer import restrict
from apps.notify import rendering, services
from apps.notify.models import NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup

from ..forms.notify import (
    CHANNEL_ERROR_FIELDS,
    SECRET_FIELD,
    ChannelForm,
    GroupForm,
    ReceiverForm,
    TemplateForm,
    channel_initial,
)
from .base import ConsoleDenied
from .registry import RegistryAreaView, field_errors


class NotifyFormArea(RegistryAreaView):
    """Helpers shared by the notify forms (the registry console's object lookups, checks,
    redirects and audit naming)."""

    def write_tenant(self, action: str, resource: str):
        """The tenant a new object goes to (the console's scope), with ``action`` allowed."""
        if self.scope.tenant is None:
            raise ConsoleDenied(
                action, resource, _("choose a tenant first (the tenant switcher at the top)")
            )
        self.authorize_on(action, resource, self.scope.tenant)
        return self.scope.tenant

    def invalid(self, form, exc: ValidationError | None = None, aliases=None, **context):
        if exc is not None:
            self.note_failure(exc)
            field_errors(form, exc, aliases)
        else:
            self.note_failure(_("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)})
        return self.render_to_response(self.get_context_data(form=form, **context), status=400)


def visible_channel(view: NotifyFormArea, name: str) -> NotifyChannel:
    return view.get_visible(
        NotifyChannel.objects.select_related("tenant"), "getNotifyChannel", name=name
    )


def visible_template(view: NotifyFormArea, channel: NotifyChannel, name: str) -> NotifyTemplate:
    """The channel's template ``name`` if the user may get it, else 404."""
    found = restrict(
        NotifyTemplate.objects.filter(channel=channel), view.request.user, "getNotifyTemplate"
    )
    template = found.filter(name=name.replace("\x00", "")).first()
    if template is None:
        raise Http404(_("Not found."))
    template.channel = channel
    return template


# -- channels ----------------------------------------------------------------------------------
class ChannelFormView(NotifyFormArea):
    """Create (``createNotifyChannel``) or edit (``updateNotifyChannel``) a channel."""

    template_name = "console/notify/channel_form.html"
    authz_action = "listNotifyChannels"
    creating = True

    def load(self):
        if self.creating:
            self.write_tenant("createNotifyChannel", "notifychannel:*")
            return None
        channel = visible_channel(self, self.kwargs["channel"])
        self.authorize_on("updateNotifyChannel", channel.authz_resource, channel.tenant)
        return channel

    def get(self, request, *args, **kwargs):
        self.object = channel = self.load()
        initial = channel_initial(channel) if channel else {"kind": request.GET.get("kind", "")}
        form = ChannelForm(initial=initial, channel=channel)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        # The secrets are kept out of the audit row's body (the robot's URL holds its key).
        request.audit_redact_keys = tuple(SECRET_FIELD.values())
        self.object = channel = self.load()
        form = ChannelForm(request.POST, channel=channel)
        if not form.is_valid():
            return self.invalid(form)
        aliases = CHANNEL_ERROR_FIELDS.get(form.chosen_kind, {})
        try:
            if channel is None:
                name = form.cleaned_data["name"]
                tenant = self.scope.tenant
                request.audit_resource = f"notifychannel:{name}"
                self.authorize_on("createNotifyChannel", request.audit_resource, tenant)
                channel = services.create_channel(
                    actor=request.user, tenant=tenant, name=name, **form.service_fields()
                )
                flash.success(request, _("Channel %(name)s created.") % {"name": name})
            else:
                channel = services.update_channel(
                    actor=request.user, channel=channel, **form.service_fields()
                )
                flash.success(request, _("Channel %(name)s saved.") % {"name": channel.name})
        except ValidationError as exc:
            return self.invalid(form, exc, aliases)
        return self.redirect(reverse("console:notify-channel", args=[channel.name]))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        channel = self.object
        context.update(
            channel=channel,
            title=(_("Edit channel %(name)s") % {"name": channel.name})
            if channel
            else _("New notification channel"),
        )
        return context


class ChannelView(NotifyFormArea):
    """One channel: its settings (never its secret) and its templates."""

    template_name = "console/notify/channel.html"
    authz_action = "getNotifyChannel"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        channel = visible_channel(self, kwargs["channel"])
        templates = restrict(
            NotifyTemplate.objects.filter(channel=channel), self.request.user, "listNotifyTemplates"
        )
        tenant, resource = channel.tenant, channel.authz_resource
        config = dict(channel.config or {})
        config.pop("ca_cert", None)
        context.update(
            title=channel.display_name or channel.name,
            channel=channel,
            config=[
                (key, "; ".join(f"{k}: {v}" for k, v in value.items()))
                if isinstance(value, dict)
                else (key, value)
                for key, value in sorted(config.items())
            ],
            templates=list(templates.order_by("name")),
            may_update=self.allowed("updateNotifyChannel", resource, tenant),
            may_delete=self.allowed("deleteNotifyChannel", resource, tenant),
            may_create_template=self.allowed(
                "createNotifyTemplate", f"{resource}/notifytemplate:*", tenant
            ),
            may_update_template=self.allowed(
                "updateNotifyTemplate", f"{resource}/notifytemplate:*", tenant
            ),
            may_delete_template=self.allowed(
                "deleteNotifyTemplate", f"{resource}/notifytemplate:*", tenant
            ),
        )
        return context


class ChannelSwitchView(NotifyFormArea):
    """POST: enable or disable a channel (``updateNotifyChannel``) without its form."""

    http_method_names = ["post"]
    authz_action = "getNotifyChannel"
    enabled = True

    def post(self, request, channel: str):
        found = visible_channel(self, channel)
        self.authorize_on("updateNotifyChannel", found.authz_resource, found.tenant)
        services.update_channel(actor=request.user, channel=found, enabled=self.enabled)
        if self.enabled:
            flash.success(request, _("Channel %(name)s enabled.") % {"name": found.name})
        else:
            flash.success(request, _("Channel %(name)s disabled.") % {"name": found.name})
        return self.redirect(reverse("console:notify-channel", args=[found.name]))


# -- templates ---------------------------------------------------------------------------------
class TemplateFormView(NotifyFormArea):
    """Create (``createNotifyTemplate``) or edit (``updateNotifyTemplate``) a channel's
    template; the "preview" button renders it with sample alert variables instead of saving."""

    template_name = "console/notify/template_form.html"
    authz_action = "getNotifyChannel"
    creating = True

    def load(self):
        self.channel = channel = visible_channel(self, self.kwargs["channel"])
        if self.creating:
            resource = f"{channel.authz_resource}/notifytemplate:*"
            self.authorize_on("createNotifyTemplate", resource, channel.tenant)
            return None
        template = visible_template(self, channel, self.kwargs["template"])
        self.authorize_on("updateNotifyTemplate", template.authz_resource, channel.tenant)
        return template

    def get(self, request, *args, **kwargs):
        self.object = template = self.load()
        initial = {}
        if template is not None:
            initial = {
                "display_name": template.display_name,
                "subject": template.subject,
                "body": template.body,
            }
        form = TemplateForm(initial=initial, editing=template is not None)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = template = self.load()
        channel = self.channel
        form = TemplateForm(request.POST, editing=template is not None)
        if not form.is_valid():
            return self.invalid(form)
        data = form.cleaned_data
        fields = {k: data.get(k, "") for k in ("display_name", "subject", "body")}
        if "preview" in request.POST:
            return self.preview(form, fields)
        try:
            if template is None:
                resource = f"{channel.authz_resource}/notifytemplate:{data['name']}"
                request.audit_resource = resource
                self.authorize_on("createNotifyTemplate", resource, channel.tenant)
                template = services.create_template(
                    actor=request.user, channel=channel, name=data["name"], **fields
                )
            else:
                template = services.update_template(actor=request.user, template=template, **fields)
        except ValidationError as exc:
            return self.invalid(form, exc)
        flash.success(request, _("Template %(name)s saved.") % {"name": template.name})
        return self.redirect(reverse("console:notify-channel", args=[channel.name]))

    def preview(self, form, fields):
        """The subject and body rendered with the sample variables, like the test send.
        Nothing is written: the POST's audit row says it was a preview."""
        self.request.audit_action = "previewNotifyTemplate"
        variables = {**services.SAMPLE_VARIABLES, "channel": self.channel.name}
        autoescape = rendering.autoescape_for(self.channel.kind)
        errors: dict[str, list[str]] = {}
        rendered = {}
        for field, escape in (("subject", False), ("body", autoescape)):
            try:
                rendered[field] = rendering.render(
                    fields[field], variables, autoescape=escape, field=field
                )
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            field_errors(form, ValidationError(errors))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return self.render_to_response(self.get_context_data(form=form, preview=rendered))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.object
        context.update(
            channel=self.channel,
            template=template,
            variables=sorted(services.SAMPLE_VARIABLES.items()),
            title=(_("Edit template %(name)s") % {"name": template.name})
            if template
            else _("New template of %(channel)s") % {"channel": self.channel.name},
        )
        return context


# -- receivers and groups ----------------------------------------------------------------------
def tenant_users(tenant):
    return list(get_user_model().objects.filter(tenant=tenant, is_active=True).order_by("username"))


class ReceiverFormView(NotifyFormArea):
    """Create (``createReceiver``) or edit (``updateReceiver``) a receiver."""

    template_name = "console/notify/receiver_form.html"
    authz_action = "listReceivers"
    creating = True

    def load(self):
        if self.creating:
            self.write_tenant("createReceiver", "receiver:*")
            return None
        receiver = self.get_visible(
            Receiver.objects.select_related("tenant", "user"),
            "getReceiver",
            name=self.kwargs["receiver"],
        )
        self.authorize_on("updateReceiver", receiver.authz_resource, receiver.tenant)
        return receiver

    def make_form(self, data=None, initial=None):
        tenant = self.object.tenant if self.object is not None else self.scope.tenant
        return ReceiverForm(
            data, initial=initial, users=tenant_users(tenant), editing=self.object is not None
        )

    def get(self, request, *args, **kwargs):
        self.object = receiver = self.load()
        initial = {}
        if receiver is not None:
            initial = {
                "display_name": receiver.display_name,
                "user": str(receiver.user_id or ""),
                "email": receiver.email,
                "mobile": receiver.mobile,
                "wechat_id": receiver.wechat_id,
            }
        return self.render_to_response(self.get_context_data(form=self.make_form(None, initial)))

    def post(self, request, *args, **kwargs):
        self.object = receiver = self.load()
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.invalid(form)
        try:
            if receiver is None:
                name = form.cleaned_data["name"]
                request.audit_resource = f"receiver:{name}"
                self.authorize_on("createReceiver", request.audit_resource, self.scope.tenant)
                receiver = services.create_receiver(
                    actor=request.user, tenant=self.scope.tenant, name=name, **form.service_fields()
                )
            else:
                receiver = services.update_receiver(
                    actor=request.user, receiver=receiver, **form.service_fields()
                )
        except ValidationError as exc:
            return self.invalid(form, exc)
        flash.success(request, _("Receiver %(name)s saved.") % {"name": receiver.name})
        return self.redirect(reverse("console:notify-receivers"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        receiver = self.object
        context.update(
            receiver=receiver,
            title=(_("Edit receiver %(name)s") % {"name": receiver.name})
            if receiver
            else _("New receiver"),
        )
        return context


class GroupFormView(NotifyFormArea):
    """Create (``createReceiverGroup``) or edit (``updateReceiverGroup``) a receiver group and
    its members (the receivers the user may get)."""

    template_name = "console/notify/group_form.html"
    authz_action = "listReceiverGroups"
    creating = True

    def load(self):
        if self.creating:
            self.write_tenant("createReceiverGroup", "receivergroup:*")
            return None
        group = self.get_visible(
            ReceiverGroup.objects.select_related("tenant").prefetch_related("receivers"),
            "getReceiverGroup",
            name=self.kwargs["group"],
        )
        self.authorize_on("updateReceiverGroup", group.authz_resource, group.tenant)
        return group

    def make_form(self, data=None, initial=None):
        tenant = self.object.tenant if self.object is not None else self.scope.tenant
        receivers = restrict(
            Receiver.objects.filter(tenant=tenant), self.request.user, "getReceiver"
        ).order_by("name")
        return GroupForm(
            data, initial=initial, receivers=list(receivers), editing=self.object is not None
        )

    def get(self, request, *args, **kwargs):
        self.object = group = self.load()
        initial = {}
        if group is not None:
            initial = {
                "display_name": group.display_name,
                "receivers": [r.name for r in group.receivers.all()],
            }
        return self.render_to_response(self.get_context_data(form=self.make_form(None, initial)))

    def post(self, request, *args, **kwargs):
        self.object = group = self.load()
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.invalid(form)
        display_name = form.cleaned_data.get("display_name", "")
        try:
            if group is None:
                name = form.cleaned_data["name"]
                request.audit_resource = f"receivergroup:{name}"
                self.authorize_on("createReceiverGroup", request.audit_resource, self.scope.tenant)
                group = services.create_group(
                    actor=request.user,
                    tenant=self.scope.tenant,
                    name=name,
                    display_name=display_name,
                    receivers=form.members(),
                )
            else:
                group = services.update_group(
                    actor=request.user,
                    group=group,
                    display_name=display_name,
                    receivers=form.members(),
                )
        except ValidationError as exc:
            return self.invalid(form, exc)
        flash.success(request, _("Receiver group %(name)s saved.") % {"name": group.name})
        return self.redirect(reverse("console:notify-receivers"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.object
        context.update(
            group=group,
            title=(_("Edit receiver group %(name)s") % {"name": group.name})
            if group
            else _("New receiver group"),
        )
        return context


# -- deleting ----------------------------------------------------------------------------------
class DeleteView(NotifyFormArea):
    """GET: the confirmation page; POST: delete (``delete<Kind>``) and go back to the list."""

    template_name = "console/notify/confirm_delete.html"
    what = ""

    def load(self):
        raise NotImplementedError

    def back(self, obj) -> str:
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        obj, action = self.load()
        self.authorize_on(action, obj.authz_resource, obj.tenant)
        return self.render_to_response(self.get_context_data(obj=obj, back=self.back(obj)))

    def post(self, request, *args, **kwargs):
        obj, action = self.load()
        self.authorize_on(action, obj.authz_resource, obj.tenant)
        self.delete(obj)
        flash.success(request, _("%(name)s deleted.") % {"name": obj.name})
        return self.redirect(self.back(obj))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = _("Delete %(what)s %(name)s?") % {
            "what": self.what,
            "name": kwargs["obj"].name,
        }
        return context


class ChannelDeleteView(DeleteView):
    authz_action = "getNotifyChannel"

    def load(self):
        self.what = _("channel")
        return visible_channel(self, self.kwargs["channel"]), "deleteNotifyChannel"

    def back(self, obj):
        return reverse("console:notify-channels")

    def delete(self, obj):
        services.delete_channel(actor=self.request.user, channel=obj)


class TemplateDeleteView(DeleteView):
    authz_action = "getNotifyChannel"

    def load(self):
        self.what = _("template")
        channel = visible_channel(self, self.kwargs["channel"])
        return visible_template(self, channel, self.kwargs["template"]), "deleteNotifyTemplate"

    def back(self, obj):
        return reverse("console:notify-channel", args=[obj.channel.name])

    def delete(self, obj):
        services.delete_template(actor=self.request.user, template=obj)


class ReceiverDeleteView(DeleteView):
    authz_action = "listReceivers"

    def load(self):
        self.what = _("receiver")
        receiver = self.get_visible(
            Receiver.objects.select_related("tenant"), "getReceiver", name=self.kwargs["receiver"]
        )
        return receiver, "deleteReceiver"

    def back(self, obj):
        return reverse("console:notify-receivers")

    def delete(self, obj):
        services.delete_receiver(actor=self.request.user, receiver=obj)


class GroupDeleteView(DeleteView):
    authz_action = "listReceiverGroups"

    def load(self):
        self.what = _("receiver group")
        group = self.get_visible(
            ReceiverGroup.objects.select_related("tenant"),
            "getReceiverGroup",
            name=self.kwargs["group"],
        )
        return group, "deleteReceiverGroup"

    def back(self, obj):
        return reverse("console:notify-receivers")

    def delete(self, obj):
        services.delete_group(actor=self.request.user, group=obj)
