"""Templates render in a sandbox: alert variables only, no files, no settings, no loops."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from apps.notify import rendering, services

from .conftest import VARIABLES, template


def render(source, autoescape=False, variables=VARIABLES):
    return rendering.render(source, variables, autoescape=autoescape)


def test_variables_and_filters_render():
    text = render(
        "{{ alertName|upper }} {{ value|floatformat:1 }} {% if status == 'firing' %}!{% endif %}"
    )
    assert text == "CPU-HIGH 0.9 !"


def test_email_bodies_are_escaped_and_others_are_not():
    assert render("{{ summary }}", autoescape=True) == "CPU &lt;b&gt;high&lt;/b&gt;"
    assert render("{{ summary }}", autoescape=False) == "CPU <b>high</b>"


@pytest.mark.parametrize(
    "source, refused",
    [
        ("{% load static %}{% static 'x' %}", "load"),
        ("{% include '/etc/passwd' %}", "include"),
        ("{% extends 'base.html' %}", "extends"),
        ("{% debug %}", "debug"),
        ("{% for c in 'abc' %}{{ c }}{% endfor %}", "for"),
        ("{% lorem 100000000 w %}", "lorem"),
        ("{% csrf_token %}", "csrf_token"),
        ("{% url 'admin:index' %}", "url"),
        ('{{ value|ljust:"1000000000" }}', "ljust"),
    ],
)
def test_dangerous_tags_and_filters_are_refused(source, refused):
    with pytest.raises(ValidationError) as caught:
        rendering.compile_template(source, "body")
    assert "body" in caught.value.message_dict
    assert refused in caught.value.message_dict["body"][0]


def test_no_settings_or_objects_are_reachable():
    """The context is the variables only: settings, request, user and Python objects are
    unknown names, rendered empty; a variable that was an object arrives as its string."""
    text = render("[{{ settings.SECRET_KEY }}][{{ request }}][{{ user.password }}]")
    assert text == "[][][]"
    text = rendering.render("{{ obj.real }}|{{ obj }}", {"obj": object()}, autoescape=False)
    assert text.startswith("|<object object at")
    with pytest.raises(ValidationError, match="underscores"):
        rendering.compile_template("{{ alertName.__class__ }}", "body")


def test_floatformat_precision_is_clamped():
    assert render('{{ value|floatformat:"100000000" }}') == "0.93000000000000000000"


def test_invalid_syntax_is_a_validation_error_naming_the_field(tenant):
    channel = services.create_channel(
        actor=None, tenant=tenant, name="hook", kind="webhook",
        config={"url": "http://127.0.0.1:9/"}, secret="k",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        template(channel, subject="{% if %}", body="{{ value|nosuchfilter }}")
    assert set(caught.value.message_dict) == {"subject", "body"}
    with pytest.raises(ValidationError) as caught:
        template(channel, body="{% include 'x' %}")
    assert "include" in caught.value.message_dict["body"][0]


def test_doubling_with_nested_with_blocks_gives_up_instead_of_growing():
    """Each nested {% with %} doubles the text through add: it stops at the bound."""
    source = "{% with a=summary|add:summary %}"
    for level in range(1, 40):
        source += (
            f"{{% with a{level}=a|add:a %}}"
            if level == 1
            else (f"{{% with a{level}=a{level - 1}|add:a{level - 1} %}}")
        )
    source += "[{{ a39|length }}]" + "{% endwith %}" * 40
    started = time.monotonic()
    assert render(source) == "[0]"
    assert time.monotonic() - started < 2


def test_stringformat_and_join_are_bounded():
    assert render('{{ value|stringformat:"1000000000s" }}') == ""
    assert render('{{ value|stringformat:".2s" }}') == "0."
    many = {"items": ["x"] * 1000, "sep": "y" * 1000}
    assert rendering.render("{{ items|join:sep }}", many, autoescape=False) == ""
    assert render("{{ alertName|make_list|join:'-' }}") == "c-p-u---h-i-g-h"


def test_a_filter_failing_on_the_variables_is_a_validation_error():
    deep: list = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    with pytest.raises(ValidationError) as caught:
        rendering.render("{{ deep|unordered_list }}", {"deep": deep}, autoescape=True)
    assert "failed with these variables" in caught.value.message_dict["body"][0]
