import django_filters

from .models import User


class UserFilterSet(django_filters.FilterSet):
    is_tenant_admin = django_filters.BooleanFilter(field_name="is_staff")

    class Meta:
        model = User
        fields = ["source", "is_active", "is_tenant_admin"]
