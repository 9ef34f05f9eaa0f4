"""Limits on failed attempts at the token endpoint and the login page.

Only failures are counted, in moving windows; a caller over one of its budgets is answered 429 with
`Retry-After` before its credentials are even looked at, so guessing stops, and a success costs nothing.
Which budgets a failure spends is chosen so that nobody can lock out someone else by failing on purpose:

- token endpoint: a failed authentication of a *confidential* client (a guessed secret) counts against
  that client, everywhere: the client itself holds the secret and retries from few places. Any other
  failure (a *public* client, whose id is public, or a bad code or refresh token, which is not a client
  authentication failure) counts per (client, address) only: an attacker naming `citymarket-demo` stops
  only himself.
- login page: failures count per (account, address), which stops one address guessing one password; and
  per account, with a higher ceiling that only refuses addresses that have failed recently. So a
  distributed guess at one account is capped (once over the ceiling, each address gets one guess per
  window), while the owner, signing in from an address with no recent failures, is never refused. This
  was chosen over a progressive delay because a delay holds one of the sync endpoints' worker threads per
  attempt (an attacker could then tie up the pool) and still slows the owner down.
- every failure also counts per address (spraying many clients or accounts from one address).

Counters live in memory (embedded mode: one process) or in Redis when `CITYMARKET_REDIS_URL` is set (several
workers share them). If Redis is unreachable the limiter fails open and logs it: an outage of the counter
store must not lock every user out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import Problem

log = structlog.get_logger(__name__)
_L = TypeVar("_L")


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


Bucket = tuple[RateLimitItem, str]


def _name(value: str) -> str:
    return value.lower()[:200]


class FailureLimiter:
    def __init__(self, storage: Storage, *, per_key: str, per_address: str, per_account: str) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_key: RateLimitItem = parse(per_key)
        self.per_address: RateLimitItem = parse(per_address)
        self.per_account: RateLimitItem = parse(per_account)

    @classmethod
    def from_settings(cls, settings: Settings, key_prefix: str | None = None) -> FailureLimiter:
        return cls(
            make_storage(settings, key_prefix),
            per_key=settings.auth_failure_limit,
            per_address=settings.auth_failure_limit_per_address,
            per_account=settings.auth_failure_limit_per_account,
        )

    # -- the buckets of each endpoint

    def _client(self, client_id: str | None) -> list[Bucket]:
        return [(self.per_key, f"token:key:{_name(client_id)}")] if client_id else []

    def _pair(self, endpoint: Endpoint, key: str | None, address: str | None) -> list[Bucket]:
        return [(self.per_key, f"{endpoint.value}:pair:{_name(key)}|{address}")] if key and address else []

    def _address(self, endpoint: Endpoint, address: str | None) -> list[Bucket]:
        return [(self.per_address, f"{endpoint.value}:addr:{address}")] if address else []

    def _account(self, account: str | None) -> list[Bucket]:
        return [(self.per_account, f"login:account:{_name(account)}")] if account else []

    # -- token endpoint

    def check_token(self, client_id: str | None, address: str | None) -> None:
        """Raise TooManyAttempts when the client, this client from this address, or the address is over."""
        self._check(
            [
                *self._client(client_id),
                *self._pair(Endpoint.token, client_id, address),
                *self._address(Endpoint.token, address),
            ]
        )

    def record_token_failure(self, client_id: str | None, address: str | None, *, confidential_auth: bool) -> None:
        """`confidential_auth`: the failure was a confidential (or unknown) client failing to authenticate."""
        owner = self._client(client_id) if confidential_auth else self._pair(Endpoint.token, client_id, address)
        self._hit([*owner, *self._address(Endpoint.token, address)])

    # -- login page

    def check_login(self, account: str | None, address: str | None) -> None:
        """Raise TooManyAttempts when this account from this address, or the address, is over; or when the
        account is over its ceiling and this address failed recently (a clean address always gets in)."""
        buckets = [*self._pair(Endpoint.login, account, address), *self._address(Endpoint.login, address)]
        if self._failed_recently(self._address(Endpoint.login, address)):
            buckets += self._account(account)
        self._check(buckets)

    def record_login_failure(self, account: str | None, address: str | None) -> None:
        self._hit(
            [
                *self._pair(Endpoint.login, account, address),
                *self._address(Endpoint.login, address),
                *self._account(account),
            ]
        )

    # -- storage

    def _failed_recently(self, buckets: list[Bucket]) -> bool:
        try:
            return any(self.limiter.get_window_stats(item, name).remaining < item.amount for item, name in buckets)
        except StorageError:
            return False  # _check logs the outage

    def _check(self, buckets: list[Bucket]) -> None:
        retry_after = 0
        try:
            for item, identifier in buckets:
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

    def _hit(self, buckets: list[Bucket]) -> None:
        try:
            for item, identifier in buckets:
                self.limiter.hit(item, identifier)
        except StorageError as exc:
            log.error("rate limit storage unreachable; failure not counted", error=str(exc))


class TooManyRequests(Problem):
    status, type_, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after})


def hit_all(limiter: MovingWindowRateLimiter, buckets: list[tuple[RateLimitItem, str]], what: str) -> None:
    """Count one attempt in each (limit, key) bucket; raise TooManyAttempts (429, Retry-After: the latest reset
    of the buckets over their limit) naming `what` ("sign-up requests"). An unreachable store does not limit."""
    try:
        over = [(item, key) for item, key in buckets if not limiter.hit(item, key)]
        if over:
            reset = max(limiter.get_window_stats(item, key).reset_time for item, key in over)
            wait = max(1, math.ceil(reset - time.time()))
            raise TooManyAttempts(f"Too many {what}. Try again in {wait} seconds.", wait)
    except StorageError as exc:
        log.error("rate limit storage unreachable; not limiting", error=str(exc))


_PER_SETTINGS: dict[tuple[str, int], tuple[Settings, Any]] = {}


def per_settings(name: str, settings: Settings, make: Callable[[Settings], _L]) -> _L:
    """One limiter of this kind per settings object (an app's), shared by both faces; the settings are kept
    alive here so that their id is never reused by another app's."""
    held = _PER_SETTINGS.get((name, id(settings)))
    if held is None or held[0] is not settings:
        held = _PER_SETTINGS[(name, id(settings))] = (settings, make(settings))
    limiter: _L = held[1]
    return limiter


class ActionLimiter:
    """Every attempt at an action counts, per account, in a moving window (reports of content: one person
    may not flood the moderators, nor hide items alone by reporting from many requests)."""

    def __init__(self, storage: Storage, limit: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage)
        self.item: RateLimitItem = parse(limit)

    def hit(self, action: str, account: str) -> None:
        """Count this attempt; raise TooManyRequests (429, Retry-After) when the account is over its budget."""
        identifier = f"{action}:{_name(account)}"
        try:
            if self.limiter.hit(self.item, identifier):
                return
            stats = self.limiter.get_window_stats(self.item, identifier)
        except StorageError as exc:
            log.error("rate limit storage unreachable; not limiting", error=str(exc))
            return
        retry_after = max(math.ceil(stats.reset_time - time.time()), 1)
        raise TooManyRequests(f"Too many {action}s from this account. Try again in {retry_after} seconds.", retry_after)


def action_limiter(settings: Settings) -> ActionLimiter:
    """The app's limiter of actions, with the storage of the other limits (memory, or Redis when
    `CITYMARKET_REDIS_URL` is set)."""
    return per_settings("actions", settings, _new_action_limiter)


def _new_action_limiter(settings: Settings) -> ActionLimiter:
    storage = make_storage(settings, f"{settings.rate_limit_key_prefix}:actions")
    return ActionLimiter(storage, settings.moderation_report_limit)
