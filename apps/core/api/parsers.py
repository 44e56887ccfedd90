"""The API's JSON parser: bodies nested deeper than ``safejson.MAX_DEPTH`` are a 400, never a
RecursionError (a 500) inside ``json.loads``. Every unreadable body keeps the one code clients
already handle (``malformed_request``, DRF's ``parse_error``)."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.core import safejson


class PortalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not valid {encoding} text.") from exc
        try:
            return safejson.loads(text)
        except safejson.TooDeep as exc:
            raise ParseError(f"JSON parse error - nested deeper than {exc.limit} levels.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
