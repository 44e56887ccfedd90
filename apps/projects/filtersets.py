import django_filters

from .choices import ProjectPhase
from .models import Project


class ProjectFilterSet(django_filters.FilterSet):
    """``?parent=prj-x`` (sub-projects of one project), ``?parent=`` with ``?top=true`` (no
    parent), ``?phase=Active``."""

    parent = django_filters.CharFilter(field_name="parent__name")
    top = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull")
    phase = django_filters.ChoiceFilter(choices=ProjectPhase.choices)

    class Meta:
        model = Project
        fields = ["parent", "top", "phase"]
