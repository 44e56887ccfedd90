"""Serializer helpers shared by every app."""

from rest_framework import serializers


class TenantSlugField(serializers.SlugRelatedField):
    """The owning tenant as its slug, read-only (the tenant comes from the request scope)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)
