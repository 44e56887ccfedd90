"""The test settings give each pytest-xdist worker its own Redis database (tests FLUSHDB it)."""

import os

from django.conf import settings

from tkeportal.settings.test import _worker_redis


def test_each_worker_gets_the_next_redis_database():
    assert _worker_redis("redis://127.0.0.1:6379/1", "gw0") == "redis://127.0.0.1:6379/2"
    assert _worker_redis("redis://127.0.0.1:6379/1", "gw2") == "redis://127.0.0.1:6379/4"
    assert _worker_redis("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/0"
    assert _worker_redis("redis://h:1", "gw1") == "redis://h:1/2"
    assert _worker_redis("rediss://h:1/3?ssl_cert_reqs=none", "gw0") == (
        "rediss://h:1/4?ssl_cert_reqs=none"
    )


def test_outside_xdist_or_odd_urls_are_left_alone():
    assert _worker_redis("redis://127.0.0.1:6379/1", "master") == "redis://127.0.0.1:6379/1"
    assert _worker_redis("unix:///run/redis.sock", "gw0") == "unix:///run/redis.sock"


def test_this_process_uses_its_worker_database():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    location = settings.CACHES["default"]["LOCATION"]
    assert location == os.environ["REDIS_URL"]
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] == [location]
    if worker.startswith("gw"):
        assert location == _worker_redis(settings.TEST_REDIS_BASE_URL, worker)
        assert location != settings.TEST_REDIS_BASE_URL
    else:
        assert location == settings.TEST_REDIS_BASE_URL
