"""Rate limit: messages per second per channel (``RELAIS_RATE_LIMITS``), a token bucket in Redis
shared by every worker (``RELAIS_RATE_LIMIT_REDIS_URL``), or per process without Redis. Celery's
``rate_limit`` was not used: it counts tasks (a chunk is 200 messages), per worker."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)


_REDIS_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


class LocalBucket:
    """A token bucket in this process (without Redis: each worker process has its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def wait_time(self, key: str, rate: float, burst: float) -> float:
        with self._lock:
            now = time.monotonic()
            tokens, at = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            self._state[key] = (tokens, now)
            return wait


class RedisBucket:
    """A token bucket in Redis, shared by every worker: one atomic Lua script takes a token or says
    how long to wait for one (Redis's own clock, so that workers' clocks do not matter)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.script = self.client.register_script(_REDIS_BUCKET)

    def wait_time(self, key: str, rate: float, burst: float) -> float:
        return float(self.script(keys=[f"relais:rate:{key}"], args=[rate, burst]))


class RateLimiter:
    def __init__(self) -> None:
        self._local = LocalBucket()
        self._redis: dict[str, RedisBucket] = {}

    def _bucket(self):
        url = settings.RELAIS_RATE_LIMIT_REDIS_URL
        if not url:
            return self._local
        if url not in self._redis:
            self._redis[url] = RedisBucket(url)
        return self._redis[url]

    def acquire(self, channel: str) -> float:
        """Wait for a token of ``channel``'s bucket; returns the seconds waited."""
        rate = float(settings.RELAIS_RATE_LIMITS.get(channel) or 0)
        if rate <= 0:
            return 0.0
        burst, waited = max(1.0, rate), 0.0
        while True:
            bucket = self._bucket()
            try:
                wait = bucket.wait_time(channel, rate, burst)
            except Exception:  # Redis away: keep sending, at this process's own pace
                if bucket is self._local:
                    raise
                logger.warning("rate limit: Redis unreachable, limiting per process", exc_info=True)
                wait = self._local.wait_time(channel, rate, burst)
            if wait <= 0:
                return waited
            time.sleep(wait)
            waited += wait


rate_limiter = RateLimiter()
