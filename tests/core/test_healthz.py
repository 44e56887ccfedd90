"""/healthz probes the real database, Redis (cache + channel layer) and the broker."""

import socket

import pytest
from channels.layers import channel_layers


@pytest.fixture
def dead_redis_url():
    """A loopback port with nothing listening: connections are refused, as when Redis dies."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.django_db
def test_healthy_when_everything_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["components"]) == {"database", "cache", "channel_layer", "broker"}
    assert body["components"]["database"]["detail"] == "postgresql"
    assert body["components"]["cache"]["detail"] == "RedisCache"
    assert body["components"]["channel_layer"]["detail"] == "RedisChannelLayer"
    assert body["components"]["broker"]["detail"] == "redis"


@pytest.mark.django_db
def test_degraded_when_redis_is_down(client, settings, dead_redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead_redis_url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [dead_redis_url]},
        }
    }
    settings.CELERY_BROKER_URL = dead_redis_url
    # Django rebuilds caches on the CACHES change by itself; channel layers are cached here.
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["failing"] == ["broker", "cache", "channel_layer"]
    assert body["components"]["database"]["ok"] is True


@pytest.mark.django_db
def test_failures_do_not_reveal_addresses(client, settings, dead_redis_url):
    settings.CELERY_BROKER_URL = dead_redis_url
    body = client.get("/healthz").json()
    assert body["failing"] == ["broker"]
    port = dead_redis_url.rsplit(":", 1)[1].split("/")[0]
    assert port not in str(body) and "127.0.0.1" not in str(body)
