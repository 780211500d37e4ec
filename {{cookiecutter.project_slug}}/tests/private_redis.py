"""A Redis server, or a three-node Redis Cluster, of a test's own, to flush, restart,
starve of memory or pause without disturbing anyone else's (the one at REDIS_URL may be a
developer's); and the removal of a test run's keys from that shared one."""

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Self

import pytest
from pydantic import SecretStr
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from {{ cookiecutter.package_name }}.cache.users import namespaces_key

# A cluster node also listens on its port + 10000 (the cluster bus).
_BUS_OFFSET = 10000
SLOTS = 16384


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, bus: bool = False) -> int:
    """A port free now; with `bus`, one whose cluster bus port is free too, both below
    Linux's ephemeral range (32768 and up), so that no outgoing connection takes either
    before the node binds it (or binds it again, after a restart)."""
    if not bus:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            return port
    while True:
        port = random.randrange(12000, 22000)
        if _free(port) and _free(port + _BUS_OFFSET):
            return port


class PrivateRedis:
    cluster = False

    def __init__(self, directory: Path, *options: str, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.directory = directory
        # More `redis-server` options, e.g. ("--maxmemory", "2mb").
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that point the cache here (for `Settings.model_copy(update=...)`)."""
        return {"redis_url": SecretStr(self.url), "redis_cluster": self.cluster}

    def node_for(self, key: str) -> Self:
        """The server that holds `key`."""
        return self

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
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


class PrivateRedisCluster:
    """Three masters, no replicas, each in a directory of its own; a node restarted keeps
    its slots (nodes.conf) and loses its keys."""

    cluster = True

    def __init__(self, directory: Path) -> None:
        self.nodes = [
            PrivateRedis(
                directory / f"node{n}",
                *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                port=free_port(bus=True),
            )
            for n in range(3)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def settings(self) -> dict[str, Any]:
        return {"redis_url": SecretStr(self.url), "redis_cluster": True}

    def node_for(self, key: str) -> PrivateRedis:
        for node in self.nodes:
            client = SyncRedis(port=node.port)
            try:
                client.exists(key)
            except ResponseError:  # MOVED: another node holds its slot
                continue
            finally:
                client.close()
            return node
        raise LookupError(key)

    def start(self) -> None:
        """The nodes, each given a third of the slots, then introduced to each other: what
        `redis-cli --cluster create` does, without its one-second waits."""
        for node in self.nodes:
            node.start()
        bounds = [SLOTS * n // len(self.nodes) for n in range(len(self.nodes) + 1)]
        for n, node in enumerate(self.nodes):
            with SyncRedis(port=node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[n], bounds[n + 1] - 1)
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", n + 1)
        with SyncRedis(port=self.nodes[0].port) as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        self.wait_until_ok()

    def reset(self) -> None:
        """As started: every node up, no keys, no scripts, no memory limit, no pause (a
        node takes two seconds to serve after it starts: the cluster is shared between
        tests, and reset between them)."""
        stopped = [node for node in self.nodes if node.process is None]
        for node in stopped:
            node.start()
        if stopped:
            self.wait_until_ok()
        for node in self.nodes:
            with SyncRedis(port=node.port) as client:
                client.execute_command("CLIENT", "UNPAUSE")
                client.flushall()
                client.script_flush()
                client.config_set("maxmemory", "0")
                client.config_set("maxmemory-policy", "noeviction")
                client.config_resetstat()

    def wait_until_ok(self) -> None:
        """Until every node says `cluster_state:ok` (its slots are all served)."""
        for _ in range(500):
            states = []
            for node in self.nodes:
                with SyncRedis(port=node.port) as client:
                    states.append(client.execute_command("CLUSTER", "INFO"))
            if all(b"cluster_state:ok" in state for state in states):
                return
            time.sleep(0.02)
        pytest.fail("the redis cluster did not come up")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


AnyPrivateRedis = PrivateRedis | PrivateRedisCluster


async def forget(how: str, redis: AnyPrivateRedis, key: str) -> None:
    """Make Redis lose `key` the way `how` says: flushed, restarted, or evicted (on a
    cluster, by the node that holds it)."""
    node = redis.node_for(key)
    if how == "restart":
        node.stop()
        node.start()
        if isinstance(redis, PrivateRedisCluster):
            redis.wait_until_ok()
        return
    admin = Redis.from_url(node.url)
    try:
        if how == "flush":
            await admin.flushall()
            return
        await admin.config_set("maxmemory", "2mb")
        await admin.config_set("maxmemory-policy", "allkeys-lru")
        junk = b"x" * 1024
        # Hash tags of the node's own slot: a cluster node takes no other keys.
        tag = "{" + key[1 : key.index("}")] + "}" if key.startswith("{") else ""
        for batch in range(10_000):
            if not await admin.exists(key):
                return
            async with admin.pipeline(transaction=False) as pipe:
                for n in range(100):
                    pipe.set(f"junk:{tag}:{batch}:{n}", junk)
                await pipe.execute()
        pytest.fail(f"{key} was never evicted")
    finally:
        await admin.aclose()


async def lose_namespace_list(redis: AnyPrivateRedis, prefix: str) -> None:
    """Delete the list of the cache's namespaces under `prefix` (on a cluster, from the
    master that holds it), as an eviction or a restart of that master would."""
    listed = namespaces_key(prefix)
    admin = Redis.from_url(redis.node_for(listed).url)
    try:
        await admin.delete(listed)
    finally:
        await admin.aclose()


async def delete_keys(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (plain, or as a hash tag's start) from the Redis at
    `url`."""
    redis = Redis.from_url(url)
    try:
        for pattern in (f"{prefix}:*", "{" + f"{prefix}:*"):
            async for key in redis.scan_iter(match=pattern, count=1000):
                await redis.delete(key)
    finally:
        await redis.aclose()
