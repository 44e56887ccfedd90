"""Resource paths as database expressions, so authorization can filter lists in SQL."""

from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat


def path_expression(*parts):
    """``path_expression("user:", "username")``: literals end with ':' or '/', the rest are
    field names (cast to text)."""
    pieces = []
    for part in parts:
        if part.endswith((":", "/")):
            pieces.append(Value(part))
        else:
            pieces.append(Cast(F(part), output_field=CharField()))
    return Concat(*pieces, output_field=CharField())
