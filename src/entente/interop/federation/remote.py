"""HTTP to a peer hub: its identity, its changed events, and delivery of ours.

Every transport or HTTP failure becomes `FetchError` naming the peer's address and the
reason, never the token: the token travels only in the `Authorization` header, which
neither these messages nor httpx's own logging carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from entente.core.errors import FetchError
from entente.interop.federation.models import Peer

FEDERATION_PATH = "/api/v1/federation"
TIMEOUT_SECONDS = 60.0


class PeerClient:
    """One sync's connection to a peer; use as a context manager."""

    def __init__(self, peer: Peer, transport: httpx.BaseTransport | None = None) -> None:
        self.address = peer.base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.address + FEDERATION_PATH,
            headers={"Authorization": f"Bearer {peer.api_token}"},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def hub_uuid(self) -> str:
        """The peer's hub id, as it states it."""
        with self._answer("GET /hub") as send:
            body = send(self._client.get("/hub"))
        return str(body["hub_uuid"])

    def changed_events(self, since: datetime | None, local_hub: str) -> tuple[str, list[Any]]:
        """The peer's cursor for the next pull and its events changed since `since`."""
        params = {"hub": local_hub, **({"since": since.isoformat()} if since else {})}
        with self._answer("GET /events") as send:
            body = send(self._client.get("/events", params=params))
        return str(body["until"]), list(body["response"])

    def deliver(self, local_hub: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Post events to the peer's import; its report of what it accepted."""
        with self._answer("POST /events") as send:
            return send(self._client.post("/events", json={"hub": local_hub, "events": items}))

    @contextmanager
    def _answer(self, what: str) -> Iterator[Callable[[httpx.Response], dict[str, Any]]]:
        def send(response: httpx.Response) -> dict[str, Any]:
            if response.status_code >= 400:
                raise FetchError(
                    f"{self.address} answered {what} with {response.status_code}: "
                    f"{_reason(response)}",
                    field="base_url",
                    value=self.address,
                )
            body: Any = response.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            return body

        try:
            yield send
        except httpx.HTTPError as exc:
            raise FetchError(
                f"could not reach {self.address} ({what}): {type(exc).__name__}: {exc}",
                field="base_url",
                value=self.address,
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(
                f"{self.address} answered {what} with something not Entente's: {exc}",
                field="base_url",
                value=self.address,
            ) from exc


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or body)[:300]
