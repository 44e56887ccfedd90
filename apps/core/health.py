"""Health probes of what the portal depends on: database, cache, channel layer, broker."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

TIMEOUT_S = 2.0
logger = logging.getLogger("tkeportal.health")


def _failure(component: str, exc: BaseException) -> dict:
    """healthz is unauthenticated: name the failure, log the details (which may hold
    addresses) instead of returning them."""
    logger.warning("health check %s failed: %s", component, exc)
    return {"ok": False, "detail": f"{component} unavailable ({type(exc).__name__})"}


def _timed(fn) -> dict:
    started = time.monotonic()
    result = fn()
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return _failure("database", exc)
    return {"ok": True, "detail": connection.vendor}


def check_cache() -> dict:
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except (RedisError, OSError) as exc:
        return _failure("cache", exc)
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {"ok": ok, "detail": backend if ok else "value written was not read back"}


async def _layer_roundtrip(layer) -> dict:
    async def roundtrip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "healthz.ping"})
        return await layer.receive(channel)

    return await asyncio.wait_for(roundtrip(), TIMEOUT_S)


def check_channel_layer() -> dict:
    layer = get_channel_layer()
    backend = type(layer).__name__
    try:
        message = async_to_sync(_layer_roundtrip)(layer)
    except TimeoutError:
        return {"ok": False, "detail": f"{backend}: no answer within {TIMEOUT_S:g}s"}
    except (RedisError, OSError) as exc:
        return _failure("channel layer", exc)
    ok = message.get("type") == "healthz.ping"
    return {"ok": ok, "detail": backend if ok else "message sent was not received"}


def check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    if not url or url == settings.EMBEDDED_BROKER:
        return {"ok": True, "detail": "embedded (tasks run in-process)"}
    try:
        with Connection(url, connect_timeout=TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
    except (KombuOperationalError, OSError) as exc:
        return _failure("broker", exc)
    return {"ok": True, "detail": url.split("://", 1)[0]}


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


def run_checks() -> tuple[bool, dict]:
    results = {name: _timed(fn) for name, fn in CHECKS.items()}
    return all(r["ok"] for r in results.values()), results
