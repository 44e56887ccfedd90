"""Limit/offset pagination: ``?limit=50&offset=100``; responses carry ``count`` and links."""

from rest_framework.pagination import LimitOffsetPagination


class PortalPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
