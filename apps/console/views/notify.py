"""The notify console: channels with the test-send button, receivers and receiver groups,
and messages (one's own always — the inbox — and the tenant's with ``listMessages``) with
read/unread.

Authorized like the REST API (``apps/notify/api/``): lists restricted in SQL with the same
actions (``listNotifyChannels``, ``listReceivers``, ``listReceiverGroups``, ``listMessages``,
which a user's own messages satisfy through self-service); a test send needs
``testNotifyChannel`` on the channel, marking a message ``updateMessage`` on it (its
receiver's linked user may); another tenant's object is 404. Writes go through
``apps.notify.services`` and are audited by the audit middleware, named like the API's.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.authz.enforcer import check, restrict
from apps.notify import senders, services
from apps.notify.models import Message, NotifyChannel, Receiver, ReceiverGroup

from .base import ConsoleView

PAGE_SIZE = 200


class NotifyAreaView(ConsoleView):
    def visible(self, queryset, action: str):
        return restrict(queryset.in_scope(self.scope), self.request.user, action)

    def name_for_audit(self, action: str, resource: str) -> None:
        self.request.audit_action, self.request.audit_resource = action, resource


class ChannelListView(NotifyAreaView):
    """The tenant's channels; each with the test-send form when the user may use it."""

    template_name = "console/notify/channels.html"
    authz_action = "listNotifyChannels"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(
            self.visible(NotifyChannel.objects.select_related("tenant"), "listNotifyChannels")
        )
        for row in rows:
            row.may_test = bool(
                check(self.request.user, "testNotifyChannel", row.authz_resource, row.tenant)
            )
            row.needs_to = senders.destination_field(row.kind) is not None
            row.templates_list = [t.name for t in row.templates.all()]
        context.update(title=_("Notification channels"), channels=rows)
        return context


class ChannelTestView(NotifyAreaView):
    """POST: send a test message through a channel now; the outcome is flashed."""

    http_method_names = ["post"]

    def post(self, request, channel: str):
        found = self.visible(NotifyChannel.objects.select_related("tenant"), "getNotifyChannel")
        channel_obj = found.filter(name=channel).first()
        if channel_obj is None:
            raise Http404(_("Not found."))
        self.name_for_audit("testNotifyChannel", channel_obj.authz_resource)
        self.require("testNotifyChannel", channel_obj.authz_resource, channel_obj.tenant)
        try:
            message = services.send_test(
                channel=channel_obj,
                actor=request.user,
                to=request.POST.get("to", "").strip(),
                template=request.POST.get("template", ""),
            )
        except ValidationError as exc:
            flash.error(request, " ".join(exc.messages))
        else:
            if message.status == "sent":
                flash.success(
                    request, _("Test message sent through %(name)s.") % {"name": channel_obj.name}
                )
            else:
                flash.error(
                    request,
                    _("The test message through %(name)s failed: %(error)s")
                    % {"name": channel_obj.name, "error": message.last_error},
                )
        return HttpResponseRedirect(reverse("console:notify-channels"), status=303)


class ReceiverListView(NotifyAreaView):
    """The tenant's receivers and, when the user may list them, receiver groups."""

    template_name = "console/notify/receivers.html"
    authz_action = "listReceivers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        receivers = self.visible(Receiver.objects.select_related("tenant", "user"), "listReceivers")
        groups = self.visible(
            ReceiverGroup.objects.prefetch_related("receivers"), "listReceiverGroups"
        )
        context.update(title=_("Receivers"), receivers=list(receivers), groups=list(groups))
        return context


class MessageListView(NotifyAreaView):
    """Messages: ``?unread=1`` for the unread only."""

    template_name = "console/notify/messages.html"
    authz_action = "listMessages"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = self.visible(Message.objects.all(), "listMessages")
        unread_only = self.request.GET.get("unread") in ("1", "true")
        if unread_only:
            rows = rows.filter(read_at__isnull=True)
        context.update(
            title=_("Messages"), messages_list=list(rows[:PAGE_SIZE]), unread_only=unread_only
        )
        return context


class MessageMarkView(NotifyAreaView):
    """POST: mark a message read or unread."""

    http_method_names = ["post"]
    read = True

    def post(self, request, pk: int):
        found = self.visible(Message.objects.select_related("receiver__user"), "getMessage")
        message = found.filter(pk=pk).first()
        if message is None:
            raise Http404(_("Not found."))
        self.name_for_audit("updateMessage", message.authz_resource)
        owner = message.receiver.user if message.receiver else None
        self.require("updateMessage", message.authz_resource, message.tenant, owner=owner)
        services.mark_read(actor=request.user, message=message, read=self.read)
        target = reverse("console:notify-messages")
        if request.POST.get("unread_only"):
            target += "?unread=1"
        return HttpResponseRedirect(target, status=303)
