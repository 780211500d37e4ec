"""A Redis server of a test's own, to flush, restart, starve of memory or pause without
disturbing anyone else's (the one at REDIS_URL may be a developer's); and the removal of
a test run's keys from that shared one."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis


class PrivateRedis:
    def __init__(self, directory: Path, *options: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        # More `redis-server` options, e.g. ("--maxmemory", "2mb").
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen([*command, *self.options], stdout=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


async def forget(how: str, redis: PrivateRedis, key: str) -> None:
    """Make Redis lose `key` the way `how` says: flushed, restarted, or evicted."""
    if how == "restart":
        redis.stop()
        redis.start()
        return
    admin = Redis.from_url(redis.url)
    try:
        if how == "flush":
            await admin.flushall()
            return
        await admin.config_set("maxmemory", "2mb")
        await admin.config_set("maxmemory-policy", "allkeys-lru")
        junk = b"x" * 1024
        for batch in range(10_000):
            if not await admin.exists(key):
                return
            async with admin.pipeline(transaction=False) as pipe:
                for n in range(100):
                    pipe.set(f"junk:{batch}:{n}", junk)
                await pipe.execute()
        pytest.fail(f"{key} was never evicted")
    finally:
        await admin.aclose()


async def delete_keys(url: str, prefix: str) -> None:
    """Delete every key under `prefix` from the Redis at `url`."""
    redis = Redis.from_url(url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()
