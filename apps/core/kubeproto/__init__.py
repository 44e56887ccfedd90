"""Kubernetes protobuf (``application/vnd.kubernetes.protobuf``) for kubesim and the portal.

kubectl, client-go and Helm send request bodies as protobuf for built-in types, and ask for
protobuf responses; the simulator must read them and the portal proxy must judge, check and
redact them exactly like JSON. There is no maintained PyPI library for this (``k8s-proto``
0.0.3 dates from 2019 and covers an old API), so this package decodes and encodes the wire
format itself, driven by :mod:`.schema`, a table of field numbers and types generated from the
Kubernetes API's own ``generated.proto`` files and Go struct tags by
``scripts/gen_kubeproto.py``.

Neutral on purpose: used by ``apps.sandbox.kubesim`` and ``apps.clusters.proxy``, it imports
neither.
"""

from .codec import (
    CONTENT_TYPE,
    MAGIC,
    ProtobufError,
    UnknownKindError,
    can_encode,
    decode,
    decode_message,
    encode,
    encode_message,
    encode_watch_event,
    envelope,
    message_for,
)

__all__ = [
    "CONTENT_TYPE",
    "MAGIC",
    "ProtobufError",
    "UnknownKindError",
    "can_encode",
    "decode",
    "decode_message",
    "encode",
    "encode_message",
    "encode_watch_event",
    "envelope",
    "message_for",
]
