"""drf-spectacular post-processing: the OpenAPI document describes what the API really answers.

Views describe their successful answers; the errors every view shares come from one place, the
exception handler in ``apps/core/api/errors.py``, and are described here once, per operation,
from what can actually go wrong there: a client generated from the document (or schemathesis,
which keeps this true in ``tests/security/test_openapi_fuzz.py``) then knows every status it
can receive and that each error body is ``{"code", "detail", "fields"}``.
"""

from __future__ import annotations

import re

from django.utils import translation
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response

ERROR_COMPONENT = "Error"

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API: a stable machine code, a sentence for people, and "
    "the offending fields (dotted paths) with their messages.",
    "properties": {
        "code": {"type": "string", "example": "validation_error"},
        "detail": {"type": "string", "example": "Invalid input. name: This field is required."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"name": ["This field is required."]},
        },
    },
    "required": ["code", "detail", "fields"],
}

_DESCRIPTIONS = {
    "400": "Invalid input (`validation_error` names the fields) or a request the operation "
    "cannot serve (for example `tenant_required`).",
    "401": "No credentials, or an API key that is unknown, expired or disabled.",
    "403": "Authenticated, but the permission layer refused the action (the detail says which "
    "action on which resource).",
    "404": "No such object in your tenant (other tenants' objects are never revealed).",
    "409": "The object already exists or was changed meanwhile.",
    "413": "The request body is larger than the portal accepts.",
    "415": "The request body's media type is not accepted.",
    "422": "The cluster refused the object (`fields` holds the cluster's causes).",
    "502": "The cluster answered with an error the portal could not map (`cluster_error`).",
    "503": "The database, or the cluster, is unavailable; try again.",
}

_WRITES = {"post", "put", "patch", "delete"}


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    """The error statuses this operation can answer, from its shape (see ``_DESCRIPTIONS``)."""
    # Even an operation open to anyone refuses a bad API key (401).
    statuses = {"401", "403", "503"}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        statuses.add("404")
    has_body = "requestBody" in operation
    if has_body or method in _WRITES or any(p.get("in") == "query" for p in parameters):
        statuses.add("400")
    if method in _WRITES:
        statuses.add("409")
    if has_body:
        statuses.update({"413", "415"})
    # Everything under a cluster talks to it: its refusals and its outages reach the client.
    if path.startswith("/api/v1/clusters/{") or (path == "/api/v1/clusters/" and method == "post"):
        statuses.update({"404", "422", "502"})
    return sorted(statuses)


# drf-spectacular anchors a path converter's regex as "^" + regex + "$"; an alternation
# "a|b" then reads "^a" or "b$", which lets generated clients (and fuzzers) build paths the
# URL resolver never routes.
_ALTERNATION = re.compile(r"^\^(?P<body>.*\|.*)\$$")


def _anchor_alternations(operation: dict) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        match = _ALTERNATION.match(schema.get("pattern", ""))
        if match:
            schema["pattern"] = f"^(?:{match.group('body')})$"


def describe_errors(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: error responses for every operation, one Error component."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _anchor_alternations(operation)
            responses = operation["responses"]
            # A view that declares its own error body (the Prometheus-compatible API answers
            # in Prometheus' shape) gets that body for the statuses added here too.
            own = next(
                (
                    response["content"]
                    for status, response in sorted(responses.items())
                    if status[0] in "45" and "content" in response
                ),
                None,
            )
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
            # A view may name an extra error status (``OpenApiResponse(description=...)``);
            # its body is the same Error as everywhere (or the view's own).
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = own or {"application/json": {"schema": reference}}
    return result


class SchemaView(SpectacularAPIView):
    """``/api/schema/``: the OpenAPI document, generated once per process, API version and
    language. It is public (``SERVE_PUBLIC``: every caller gets the same document) and depends
    on the code alone, while generating it walks every view and serializer (seconds)."""

    _documents: dict[tuple[str | None, str | None], dict] = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, translation.get_language())
        document = self._documents.get(key)
        if document is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            document = generator.get_schema(request=request, public=self.serve_public)
            self._documents[key] = document
        return Response(
            data=document,
            headers={
                "Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'
            },
        )
