"""The rate limit counts keys, not header spellings; guessing keys is limited per
address; several serving processes share one limit (Redis) or split it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from core.domain.principals import hash_api_key
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.rate_limit import REDIS_PREFIX, GcraBuckets, buckets_for
from entrypoints.settings import Settings
from tests.conftest import require_service
from tests.e2e.http_support import assert_problem, bearer, make_container, running_api
from tests.e2e.serve_process import ORDERLY, orderly_serve

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_every_spelling_of_a_key_shares_its_bucket(tmp_path: Path) -> None:
    with running_api("memory", tmp_path, rate_limit_per_minute=3) as api:
        key = api.alice["Authorization"].removeprefix("Bearer ")
        for header in (f"Bearer {key}", f"bearer {key}", f"BEARER  {key}"):
            r = api.client.get("/v1/products", headers={"Authorization": header})
            assert r.status_code == 200, r.text
        r = api.client.get("/v1/products", headers={"Authorization": f"bEaReR {key}"})
        assert_problem(r, 429, "rate_limited")
        assert api.client.get("/v1/products", headers=api.bob).status_code == 200


def test_wrong_keys_are_limited_per_address_not_per_key(tmp_path: Path) -> None:
    with running_api("memory", tmp_path, rate_limit_per_minute=3) as api:
        for n in range(3):
            r = api.client.get("/v1/products", headers=bearer(f"guess-{n}-{uuid.uuid4().hex}"))
            assert_problem(r, 401, "unauthenticated")
        r = api.client.get("/v1/products", headers=bearer(f"guess-4-{uuid.uuid4().hex}"))
        problem = assert_problem(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60, problem
        r = api.client.get("/v1/products", headers={"Authorization": "Basic abc"})
        assert_problem(r, 429, "rate_limited")


def test_refused_keys_leave_no_bucket_behind() -> None:
    now = [1000.0]
    buckets = GcraBuckets(60, clock=lambda: now[0])

    async def guess(n: int) -> None:
        assert await buckets.take(f"key:{n}") == 0.0
        await buckets.give_back(f"key:{n}")  # answered 401: not this key's request

    async def run() -> None:
        for n in range(1000):
            await guess(n)

    asyncio.run(run())
    assert len(buckets) == 0


def test_without_redis_each_of_n_processes_allows_its_share() -> None:
    buckets = buckets_for(10, "", processes=2)

    async def allowed() -> int:
        return sum([await buckets.take("key:k") == 0.0 for _ in range(10)])

    assert asyncio.run(allowed()) == 5


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


def test_processes_sharing_redis_share_one_limit(tmp_path: Path, redis_url: str) -> None:
    """Two apps (two serving processes) over the same store and the same Redis."""
    container = make_container("sqlite", tmp_path, rate_limit_per_minute=4, redis_url=redis_url)
    key = container.create_principal()(f"c-{uuid.uuid4().hex[:8]}", "customer").api_key
    one, two = create_app(container, serving_processes=2), create_app(container)
    try:
        with TestClient(one) as a, TestClient(two) as b:
            for client in (a, b, a, b):
                assert client.get("/v1/products", headers=bearer(key)).status_code == 200
            assert_problem(a.get("/v1/products", headers=bearer(key)), 429, "rate_limited")
            assert_problem(b.get("/v1/products", headers=bearer(key)), 429, "rate_limited")
    finally:
        import redis

        redis.Redis.from_url(redis_url).delete(REDIS_PREFIX + "key:" + hash_api_key(key))


def test_an_unreachable_redis_lets_requests_through(tmp_path: Path) -> None:
    container = make_container(
        "memory", tmp_path, rate_limit_per_minute=1, redis_url="redis://127.0.0.1:1/0"
    )
    key = container.create_principal()("alice", "customer").api_key
    with TestClient(create_app(container)) as client:
        for _ in range(3):
            assert client.get("/v1/products", headers=bearer(key)).status_code == 200


def test_two_served_processes_sharing_redis_hold_one_limit(tmp_path: Path, redis_url: str) -> None:
    """Two `orderly serve` processes over one database and one Redis: the key's limit
    holds across them, however its header is spelled."""
    url = f"sqlite:///{tmp_path / 'orderly.db'}"
    env = {
        **os.environ,
        "ORDERLY_DATABASE_URL": url,
        "ORDERLY_RATE_LIMIT_PER_MINUTE": "6",
        "ORDERLY_REDIS_URL": redis_url,
    }
    upgrade = subprocess.run(
        [ORDERLY, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    container = build_container(Settings(database_url=url))
    key = container.create_principal()(f"c-{uuid.uuid4().hex[:8]}", "customer").api_key
    container.database().dispose()
    spellings = [f"Bearer {key}", f"bearer {key}", f"BEARER  {key}"]
    try:
        with (
            orderly_serve(tmp_path / "one.log", env) as one,
            orderly_serve(tmp_path / "two.log", env) as two,
        ):
            answers = [
                httpx.get(
                    f"{server.url}/v1/products",
                    headers={"Authorization": spellings[n % 3]},
                    timeout=10,
                ).status_code
                for n, server in enumerate([one, two] * 5)
            ]
            one.stop()
            two.stop()
    finally:
        import redis

        redis.Redis.from_url(redis_url).delete(REDIS_PREFIX + "key:" + hash_api_key(key))
    assert answers == [200] * 6 + [429] * 4, answers
