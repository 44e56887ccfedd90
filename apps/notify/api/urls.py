"""/api/v1/notify/… routes of apps.notify."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    MessageRequestViewSet,
    MessageViewSet,
    NotifyChannelViewSet,
    NotifyTemplateViewSet,
    ReceiverGroupViewSet,
    ReceiverViewSet,
)

router = SimpleRouter()
router.register("notify/channels", NotifyChannelViewSet, basename="notifychannel")
router.register("notify/receivers", ReceiverViewSet, basename="receiver")
router.register("notify/receiver-groups", ReceiverGroupViewSet, basename="receivergroup")
router.register("notify/messages", MessageViewSet, basename="message")
router.register("notify/message-requests", MessageRequestViewSet, basename="messagerequest")

CHANNEL = "notify/channels/<str:channel>/templates/"

urlpatterns = [
    *router.urls,
    path(
        CHANNEL,
        NotifyTemplateViewSet.as_view({"get": "list", "post": "create"}),
        name="notifytemplate-list",
    ),
    path(
        f"{CHANNEL}<str:name>/",
        NotifyTemplateViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="notifytemplate-detail",
    ),
]
