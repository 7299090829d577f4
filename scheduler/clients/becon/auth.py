"""BECON access tokens: the signer plug-in and a cache that issues one token at a time.

Spec "Authentication sequence": GET server time, sign it, POST the signature
for a token valid 24 h, "re-issued before it expires". :class:`TokenCache`
re-issues at 90 % of the token's life (by the injected clock) and
single-flights issuing: however many calls find the token missing or stale
at once, one issue runs and they all wait for it (and share its failure,
which each retries under its own policy). A 401 calls :meth:`TokenCache.reissue`
with the token that was refused, so a burst of 401s re-issues once too.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from pydantic import SecretStr

from scheduler import metrics
from scheduler.clients.becon.types import TokenGrant
from scheduler.clock import Clock
from scheduler.errors import ConfigError

log = structlog.get_logger("scheduler.clients.becon")

#: ``(service_id, server_time_ms, key) -> signature`` (``becon.signer``).
Signer = Callable[[str, int, str], str]


def load_signer(path: str) -> Signer:
    """The function named ``package.module:function`` (config ``becon.signer``)."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError.single("becon.signer", f"cannot import {module_name!r}: {exc}") from exc
    signer = getattr(module, attribute, None)
    if not callable(signer):
        raise ConfigError.single("becon.signer", f"{module_name} has no function {attribute!r}")
    checked: Signer = signer
    return checked


class TokenCache:
    """The current access token, re-issued at ``renew_share`` of its life, one issue at a time.

    ``issue`` gets a fresh :class:`TokenGrant` (server time, signature,
    token call); the cache never logs or shows the token.
    """

    def __init__(
        self,
        issue: Callable[[], Awaitable[TokenGrant]],
        clock: Clock,
        *,
        renew_share: float = 0.9,
    ) -> None:
        if not 0 < renew_share <= 1:
            raise ValueError(f"renew_share must be in (0, 1], got {renew_share}")
        self._issue = issue
        self._clock = clock
        self._renew_share = renew_share
        self._token: SecretStr | None = None
        self._renew_at: datetime | None = None
        self._flight: asyncio.Task[SecretStr] | None = None
        #: How many tokens were issued (for logs and tests).
        self.issued = 0

    def __repr__(self) -> str:
        held = "none" if self._token is None else f"renew at {self._renew_at}"
        return f"TokenCache(token=***, {held}, issued={self.issued})"

    @property
    def renew_at(self) -> datetime | None:
        """When the current token will be re-issued (None: no token yet)."""
        return self._renew_at

    def _fresh(self) -> SecretStr | None:
        if self._token is None or self._renew_at is None:
            return None
        return self._token if self._clock.now() < self._renew_at else None

    async def get(self) -> SecretStr:
        """A token good for now: the cached one, or the one being issued."""
        token = self._fresh()
        if token is not None:
            return token
        if self._flight is None:
            self._flight = asyncio.ensure_future(self._fly())
            self._flight.add_done_callback(_retrieve)
        # shield: a caller giving up (timeout, cancel) must not cancel others' token
        return await asyncio.shield(self._flight)

    async def reissue(self, refused: SecretStr) -> SecretStr:
        """After a 401 for ``refused``: a new token, unless another call already got one."""
        current = self._token
        if current is not None and current.get_secret_value() == refused.get_secret_value():
            self._token, self._renew_at = None, None
        return await self.get()

    async def _fly(self) -> SecretStr:
        try:
            started = self._clock.now()
            try:
                grant = await self._issue()
            except Exception:
                metrics.record_token_issue(False)
                raise
            metrics.record_token_issue(True)
            self._token = grant.token
            self._renew_at = started + grant.expires_in * self._renew_share
            self.issued += 1
            log.info(
                "becon.token_issued",
                expires_in_s=grant.expires_in.total_seconds(),
                renew_at=self._renew_at.isoformat(),
            )
            return grant.token
        finally:
            self._flight = None

    async def aclose(self) -> None:
        """Stop an issue in flight (the client is closing)."""
        flight = self._flight
        if flight is not None:
            flight.cancel()
            await asyncio.wait([flight])  # waits without raising the flight's error


def _retrieve(task: asyncio.Task[SecretStr]) -> None:
    """Mark the flight's error as seen: its waiters got it (or none was left to)."""
    if not task.cancelled():
        task.exception()
