"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
notification channels (test send), receivers and groups, messages (read/unread)."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import notify as views
from ..views import notify_forms as forms

urlpatterns: list = [
    path("notify/channels/", views.ChannelListView.as_view(), name="notify-channels"),
    path("notify/channels/new/", forms.ChannelFormView.as_view(), name="notify-channel-new"),
    path("notify/channels/<str:channel>/", forms.ChannelView.as_view(), name="notify-channel"),
    path(
        "notify/channels/<str:channel>/edit/",
        forms.ChannelFormView.as_view(creating=False),
        name="notify-channel-edit",
    ),
    path(
        "notify/channels/<str:channel>/enable/",
        forms.ChannelSwitchView.as_view(enabled=True),
        name="notify-channel-enable",
    ),
    path(
        "notify/channels/<str:channel>/disable/",
        forms.ChannelSwitchView.as_view(enabled=False),
        name="notify-channel-disable",
    ),
    path(
        "notify/channels/<str:channel>/delete/",
        forms.ChannelDeleteView.as_view(),
        name="notify-channel-delete",
    ),
    path(
        "notify/channels/<str:channel>/templates/new/",
        forms.TemplateFormView.as_view(),
        name="notify-template-new",
    ),
    path(
        "notify/channels/<str:channel>/templates/<str:template>/edit/",
        forms.TemplateFormView.as_view(creating=False),
        name="notify-template-edit",
    ),
    path(
        "notify/channels/<str:channel>/templates/<str:template>/delete/",
        forms.TemplateDeleteView.as_view(),
        name="notify-template-delete",
    ),
    path(
        "notify/channels/<str:channel>/test/",
        views.ChannelTestView.as_view(),
        name="notify-channel-test",
    ),
    path("notify/receivers/", views.ReceiverListView.as_view(), name="notify-receivers"),
    path("notify/receivers/new/", forms.ReceiverFormView.as_view(), name="notify-receiver-new"),
    path(
        "notify/receivers/<str:receiver>/edit/",
        forms.ReceiverFormView.as_view(creating=False),
        name="notify-receiver-edit",
    ),
    path(
        "notify/receivers/<str:receiver>/delete/",
        forms.ReceiverDeleteView.as_view(),
        name="notify-receiver-delete",
    ),
    path("notify/groups/new/", forms.GroupFormView.as_view(), name="notify-group-new"),
    path(
        "notify/groups/<str:group>/edit/",
        forms.GroupFormView.as_view(creating=False),
        name="notify-group-edit",
    ),
    path(
        "notify/groups/<str:group>/delete/",
        forms.GroupDeleteView.as_view(),
        name="notify-group-delete",
    ),
    path("notify/messages/", views.MessageListView.as_view(), name="notify-messages"),
    path(
        "notify/messages/<int:pk>/read/",
        views.MessageMarkView.as_view(read=True),
        name="notify-message-read",
    ),
    path(
        "notify/messages/<int:pk>/unread/",
        views.MessageMarkView.as_view(read=False),
        name="notify-message-unread",
    ),
]
NAV: list = [
    Section(
        "notify",
        _("Notifications"),
        (
            Entry(_("Messages"), "console:notify-messages", "listMessages", icon="bell"),
            Entry(
                _("Channels"),
                "console:notify-channels",
                "listNotifyChannels",
                icon="broadcast",
                also=("console:notify-channel*", "console:notify-template-*"),
            ),
            Entry(
                _("Receivers"),
                "console:notify-receivers",
                "listReceivers",
                icon="people",
                also=("console:notify-receiver-*", "console:notify-group-*"),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
