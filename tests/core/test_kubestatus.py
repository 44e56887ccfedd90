"""One Kubernetes Status/reason table: kubesim's errors, the proxy's own answers and the
portal's reading of a cluster's errors agree with each other and with apimachinery."""

import json

import pytest

from apps.clusters import k8s
from apps.clusters.proxy.status import status_body
from apps.core import kubestatus
from apps.sandbox.kubesim.errors import ApiError


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (400, "BadRequest"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (409, "Conflict"),
        (410, "Expired"),
        (413, "RequestEntityTooLarge"),
        (415, "UnsupportedMediaType"),
        (422, "Invalid"),
        (429, "TooManyRequests"),
        (504, "Timeout"),
        (507, "InternalError"),  # an unlisted 5xx, as NewGenericServerResponse says
    ],
)
def test_kubesim_and_the_proxy_give_the_same_status(code, reason):
    from_sim = ApiError(code, "it failed").status()
    from_proxy = json.loads(status_body(code, "it failed"))
    assert from_sim == from_proxy == kubestatus.status(code, "it failed")
    assert from_sim["reason"] == reason and from_sim["code"] == code
    assert from_sim["kind"] == "Status" and from_sim["status"] == "Failure"


def test_the_portal_reads_the_status_kubesim_writes():
    causes = [
        {"reason": "FieldValueInvalid", "message": "Invalid value", "field": "metadata.name"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"},
    ]
    body = json.dumps(
        ApiError(422, 'x "Bad" is invalid', details={"causes": causes}).status()
    ).encode()
    error = k8s.error_for_status("cls-a1", 422, body)
    assert isinstance(error, k8s.ClusterInvalid)
    assert error.fields == {"metadata.name": ["Invalid value"], "spec.x": ["Required value"]}
    assert 'x "Bad" is invalid' in str(error.detail)
    assert kubestatus.message_and_causes(b"<html>oops</html>") == ("<html>oops</html>", {})
