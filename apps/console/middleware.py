"""The console shows times in the viewer's time zone: the browser reports it once (a cookie
set by ``console.js`` from ``Intl.DateTimeFormat``); anything that is not a real IANA zone
name is ignored and UTC is used."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

TZ_COOKIE = "portal_tz"


def zone_of(name: str):
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ConsoleTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_of(request.COOKIES.get(TZ_COOKIE, ""))
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
