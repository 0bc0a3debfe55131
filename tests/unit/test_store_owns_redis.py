"""The store is the one owner of every Redis contract (DESIGN §4, issue 16 item 4): outside
`rabota_common/store/` no product module builds an `rs:` key, sends a Redis command, imports the Redis
client, or reaches for the store's client or key builder."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE = Path("libs/common/rabota_common/store")

# Redis commands (redis-py method names) that would talk to Redis if called on a client or a pipeline.
REDIS_COMMANDS = frozenset("""
get set getdel getex mget mset setex setnx incr incrby decr exists delete unlink expire pexpire ttl pttl
hget hset hmget hgetall hkeys hvals hdel hincrby hexists hlen sadd srem smembers sismember smismember scard
zadd zrem zrange zrangebyscore zremrangebyscore zscore zcard rpush lpush lpop rpop lrange ltrim llen
eval evalsha register_script pipeline scan scan_iter keys ping aclose close publish xadd
""".split())
ALWAYS = frozenset({"pipeline", "register_script", "eval", "evalsha"})


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()"
    return "?"


def _is_redis_receiver(dotted: str) -> bool:
    return any(part in ("redis", "_redis") for part in dotted.split("."))


def _string_start(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def _call_problem(node: ast.Call) -> str | None:
    if not isinstance(node.func, ast.Attribute):
        return None
    receiver, attr = _dotted(node.func.value), node.func.attr
    if attr in REDIS_COMMANDS and (attr in ALWAYS or _is_redis_receiver(receiver)):
        return f"Redis command {receiver}.{attr}()"
    if attr in ("key", "track") and receiver.split(".")[-1] == "store":
        return f"store key built outside the store: {receiver}.{attr}()"
    return None


def _import_problem(node: ast.Import | ast.ImportFrom) -> str | None:
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    for name in names:
        if name == "redis" and isinstance(node, ast.ImportFrom):
            if any(a.name != "exceptions" for a in node.names):
                return "imports the Redis client"
        elif (name == "redis" or name.startswith("redis.")) and not name.startswith("redis.exceptions"):
            return f"imports {name}"
    return None


def problems_in(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    joined = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        problem: str | None = None
        if isinstance(node, ast.Call):
            problem = _call_problem(node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            problem = _import_problem(node)
        elif isinstance(node, ast.Attribute) and node.attr in ("redis", "_redis") and isinstance(node.ctx, ast.Load):
            problem = f"reaches for the Redis client: {_dotted(node)}"
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in joined:
            start = _string_start(node)
            if start is not None and start.startswith("rs:"):
                problem = f"builds an rs: key ({start[:30]!r})"
        if problem:
            found.append((getattr(node, "lineno", 0), problem))
    return found


def violations(root: Path) -> list[str]:
    out = []
    for top in ("services", "libs"):
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if rel.is_relative_to(STORE) or rel == Path("libs/common/rabota_common/store.py"):
                continue
            for line, problem in problems_in(path.read_text()):
                out.append(f"{rel}:{line}: {problem}")
    return sorted(set(out))


def test_no_redis_outside_the_store() -> None:
    found = violations(ROOT)
    assert not found, "Redis used outside rabota_common/store/:\n" + "\n".join(found)


def test_the_check_sees_what_it_forbids() -> None:
    bad = '''
import redis.asyncio as aioredis
from redis.asyncio import Redis
from redis import exceptions
async def f(rt, portal):
    await rt.redis.set(rt.store.key(portal, "x"), "1")
    await rt.store.redis.get("k")
    pipe = something.pipeline()
    key = f"rs:lock:{portal}"
    other = "rs:portals"
'''
    lines = sorted(line for line, _ in problems_in(bad))
    assert lines == [2, 3, 6, 6, 6, 7, 7, 8, 9, 10], problems_in(bad)


if __name__ == "__main__":  # python tests/unit/test_store_owns_redis.py [root]: the list, for notes
    listed = violations(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    print("\n".join(listed))
    lines = {":".join(v.split(":")[:2]) for v in listed}
    print(f"{len(listed)} findings on {len(lines)} lines in {len({v.split(':')[0] for v in listed})} files")
