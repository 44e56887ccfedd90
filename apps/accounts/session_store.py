"""The session engine (``SESSION_ENGINE = "apps.accounts.session_store"``): Django's database
sessions in :class:`~apps.accounts.models.PortalSession`, which also records the signed-in
user, so a user's sessions are found by an index (``apps.accounts.sessions.end_sessions``)."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        from .models import PortalSession

        return PortalSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        try:
            instance.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            instance.user_id = None
        return instance
