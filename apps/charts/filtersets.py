import django_filters

from .choices import ChartVisibility
from .models import ChartGroup


class ChartGroupFilterSet(django_filters.FilterSet):
    """``?visibility=public``, ``?project=prj-x``, ``?imported=true``."""

    visibility = django_filters.ChoiceFilter(choices=ChartVisibility.choices)
    project = django_filters.CharFilter(field_name="project__name")
    imported = django_filters.BooleanFilter(method="filter_imported")

    class Meta:
        model = ChartGroup
        fields = ["visibility", "project"]

    def filter_imported(self, queryset, name, value):
        return queryset.exclude(import_url="") if value else queryset.filter(import_url="")
