"""Limits on failed attempts at the token endpoint and the login page.

Only failures are counted, separately per client id (or account) and per client address, in a moving
window: a caller whose own key or address is over its budget is answered 429 with `Retry-After` before
its credentials are even looked at, so guessing stops; a success costs nothing, and a client that never
fails is never slowed by someone else's failures against other clients from other addresses.

Counters live in memory (embedded mode: one process) or in Redis when `CITYMARKET_REDIS_URL` is set (several
workers share them). If Redis is unreachable the limiter fails open and logs it: an outage of the counter
store must not lock every user out.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import Problem

log = structlog.get_logger(__name__)


class Endpoint(StrEnum):
    token = "token"  # noqa: S105  (the token endpoint's name)
    login = "login"


class TooManyAttempts(Problem):
    status, type_, title = 429, "too-many-attempts", "Too many failed attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def make_storage(settings: Settings, key_prefix: str | None = None) -> Storage:
    prefix = key_prefix or f"{settings.rate_limit_key_prefix}:auth"
    if settings.redis_url:
        return RedisStorage(settings.redis_url, key_prefix=prefix, wrap_exceptions=True, socket_timeout=2)
    return MemoryStorage()


class FailureLimiter:
    def __init__(self, storage: Storage, *, per_key: str, per_address: str) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_key: RateLimitItem = parse(per_key)
        self.per_address: RateLimitItem = parse(per_address)

    @classmethod
    def from_settings(cls, settings: Settings, key_prefix: str | None = None) -> FailureLimiter:
        return cls(
            make_storage(settings, key_prefix),
            per_key=settings.auth_failure_limit,
            per_address=settings.auth_failure_limit_per_address,
        )

    def _buckets(self, endpoint: Endpoint, key: str | None, address: str | None) -> list[tuple[RateLimitItem, str]]:
        buckets = []
        if key:
            buckets.append((self.per_key, f"{endpoint.value}:key:{key.lower()[:200]}"))
        if address:
            buckets.append((self.per_address, f"{endpoint.value}:addr:{address}"))
        return buckets

    def check(self, endpoint: Endpoint, key: str | None, address: str | None) -> None:
        """Raise TooManyAttempts when the key or the address has used up its failures."""
        retry_after = 0
        try:
            for item, identifier in self._buckets(endpoint, key, address):
                if not self.limiter.test(item, identifier):
                    stats = self.limiter.get_window_stats(item, identifier)
                    retry_after = max(retry_after, math.ceil(stats.reset_time - time.time()), 1)
        except StorageError as exc:
            log.error("rate limit storage unreachable; not limiting", error=str(exc))
            return
        if retry_after:
            raise TooManyAttempts(
                f"Too many failed attempts from this client or address. Try again in {retry_after} seconds.",
                retry_after,
            )

    def record_failure(self, endpoint: Endpoint, key: str | None, address: str | None) -> None:
        try:
            for item, identifier in self._buckets(endpoint, key, address):
                self.limiter.hit(item, identifier)
        except StorageError as exc:
            log.error("rate limit storage unreachable; failure not counted", error=str(exc))
