"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
notification channels (test send), receivers and groups, messages (read/unread)."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import notify as views

urlpatterns: list = [
    path("notify/channels/", views.ChannelListView.as_view(), name="notify-channels"),
    path(
        "notify/channels/<str:channel>/test/",
        views.ChannelTestView.as_view(),
        name="notify-channel-test",
    ),
    path("notify/receivers/", views.ReceiverListView.as_view(), name="notify-receivers"),
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
                also=("console:notify-channel-*",),
            ),
            Entry(_("Receivers"), "console:notify-receivers", "listReceivers", icon="people"),
        ),
    )
]
CLUSTER_TABS: list = []
