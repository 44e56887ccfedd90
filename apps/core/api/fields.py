"""Serializer fields shared by apps."""

from rest_framework import serializers

from apps.tenants.scope import resolve_scope


class TenantSlugRelatedField(serializers.SlugRelatedField):
    """A related object named by slug, looked up only in the request's tenant (so another
    tenant's object is "does not exist", like a typo)."""

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        scope = resolve_scope(request)
        if scope.tenant is None:
            return queryset.none()
        return queryset.filter(tenant=scope.tenant)

    def to_internal_value(self, data):
        # PostgreSQL refuses to compare text containing NUL (an error, not "no row"), and no
        # stored name can contain one: such a name simply does not exist.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)
