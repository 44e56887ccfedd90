import django_filters

from .choices import Visibility
from .models import RegistryNamespace


class RegistryNamespaceFilterSet(django_filters.FilterSet):
    """``?visibility=public``, ``?project=prj-x``."""

    visibility = django_filters.ChoiceFilter(choices=Visibility.choices)
    project = django_filters.CharFilter(field_name="project__name")

    class Meta:
        model = RegistryNamespace
        fields = ["visibility", "project"]
