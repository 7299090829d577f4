"""The one module that talks to openleadr's client: its quirks are kept here.

- It forces its logger to INFO and logs each failed request at ERROR: we set
  it to WARNING, keep it out of the root logger and remember the last message
  of its client, which becomes the VEN's ``last_error``.
- Its requests never raise: a failure is ``(None, {})`` (or a bare ``None`` for
  an empty body), with the cause only in its log; a message whose signature
  or certificate fingerprint does not check is dropped the same way. We check
  the fingerprint ourselves on every received message (a hook) so that the
  error says so.
- ``show_fingerprint=False``: no banner on stdout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any

from openleadr import OpenADRClient
from openleadr.messaging import validate_xml_schema
from openleadr.utils import certificate_fingerprint, ensure_bytes, extract_pem_cert

from scheduler.config import OpenadrConfig
from scheduler.store.openadr import Answer

Reply = tuple[str | None, Mapping[str, Any]]


class _LastMessage(logging.Handler):
    """Keeps the last warning or error openleadr's client logged (its only error report)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.pathname.endswith("client.py"):
            self.last = record.getMessage()


_CAPTURE = _LastMessage()


def quiet_logger() -> None:
    """openleadr's logger: WARNING, not propagated, its client's last complaint kept."""
    logger = logging.getLogger("openleadr")
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    if _CAPTURE not in logger.handlers:
        logger.addHandler(_CAPTURE)


def rejection_of(content: str, fingerprint: str) -> str | None:
    """Why a received message fails the VTN fingerprint check, if it does.

    Only the fingerprint: openleadr's own check (signature, replay nonce) runs
    after this hook, and a second signature check here would spend the nonce.
    """
    if not content:
        return None
    try:
        cert = extract_pem_cert(validate_xml_schema(ensure_bytes(content)))
        received = certificate_fingerprint(cert)
    except Exception as exc:  # lxml and ssl raise several types; the message says which
        return f"refused the VTN's message: no usable signing certificate ({exc})"
    if received != fingerprint:
        return (
            "refused the VTN's message: its certificate fingerprint does not match "
            f"openadr.vtn_fingerprint (expected {fingerprint}, received {received})"
        )
    return None


class Client:
    """``OpenADRClient`` with failures as values and a reason for each."""

    def __init__(self, config: OpenadrConfig, ven_id: str | None) -> None:
        self._fingerprint = config.vtn_fingerprint if config.check_fingerprint else None
        self._client = OpenADRClient(
            ven_name=config.ven_name,
            vtn_url=config.vtn_url,
            cert=config.cert_file,
            key=config.key_file,
            ca_file=config.ca_file,
            vtn_fingerprint=self._fingerprint,
            show_fingerprint=False,
            ven_id=ven_id,
            disable_signature=config.cert_file is None,
        )
        self._client.add_hook("after_receive_xml", self._received)
        self._problem: str | None = None

    @property
    def ven_id(self) -> str | None:
        return self._client.ven_id  # type: ignore[no-any-return]  # openleadr is untyped

    @property
    def registration_id(self) -> str | None:
        return self._client.registration_id  # type: ignore[no-any-return]  # untyped

    @property
    def poll_frequency(self) -> timedelta | None:
        return self._client.poll_frequency  # type: ignore[no-any-return]  # untyped

    def last_problem(self) -> str | None:
        return self._problem or _CAPTURE.last

    async def register(self, registration_id: str | None) -> Mapping[str, Any] | None:
        """The VTN's registration reply, or None (see :meth:`last_problem`)."""
        self._client.registration_id = None
        kind, payload = await self._call(
            self._client.create_party_registration(
                ven_id=self._client.ven_id, registration_id=registration_id
            )
        )
        if kind is None or not self._client.registration_id:
            if kind is not None and not self._problem:
                self._problem = "the VTN refused the registration (no registration id)"
            return None
        return payload

    async def request_events(self) -> Reply:
        return await self._call(self._client.request_event())

    async def poll(self) -> Reply:
        return await self._call(self._client.poll())

    async def answer(self, request_id: str, answer: Answer) -> None:
        await self._call(
            self._client.created_event(
                request_id, answer.oadr_event_id, answer.opt, answer.modification
            )
        )

    async def acknowledge(self) -> None:
        """The empty ``oadrResponse`` a re-registration request expects."""
        await self._call(self._client.send_response(service="EiRegisterParty"))

    async def close(self) -> None:
        if self._client.client_session is not None:
            await self._client.client_session.close()

    async def _call(self, request: Awaitable[Any]) -> Reply:
        self._problem = None
        _CAPTURE.last = None
        result = await request
        if not isinstance(result, tuple):  # an empty body, or a method that returns nothing
            return None, {}
        kind, payload = result
        return kind, payload or {}

    def _received(self, content: str) -> None:
        if self._fingerprint:
            self._problem = rejection_of(content, self._fingerprint)
