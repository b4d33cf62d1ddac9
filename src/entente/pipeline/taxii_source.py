"""A TAXII 2.1 collection as a feed source: what the server added since the last look.

TAXII 2.1 "Get Objects" (section 5.4 of https://docs.oasis-open.org/cti/taxii/v2.1/taxii-v2.1.html)
gives a collection's objects in the order the server added them, a page (`limit`) at a time,
each page an envelope with `more` and `next`, and the header `X-TAXII-Date-Added-Last`: when
the page's last object was added. Asking with `added_after` set to that time gives only what
was added since, which is how a look stays incremental. The time is remembered in
`feed_source_state.last_modified`, the column a URL feed keeps its `Last-Modified` in: the
same role (a time the server gave, sent back on the next look), so no new column is needed.

Each page becomes one complete STIX 2.1 bundle `taxii-<fetch time>-<page>.json` in the feed's
downloads directory, written hidden and renamed when whole (as the URL sources do), for the
`stix` parser to read. Every request is bounded by `options.source` (`timeout_seconds`,
`max_bytes` per answer, `retries` with a doubling pause on 5xx, 429 and dropped connections).

Credentials (`options.taxii.user` + `password`, or `token` sent as `Authorization: Bearer`)
stay in the feed's options: never in an error message, a repr or a log line, and shown
masked wherever a feed is shown (`FeedPublic`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from requests.exceptions import ChunkedEncodingError
from taxii2client.common import _HTTPConnection  # type: ignore[import-untyped]
from taxii2client.exceptions import (  # type: ignore[import-untyped]
    AccessError,
    TAXIIServiceException,
)
from taxii2client.v21 import ApiRoot, Collection, as_pages  # type: ignore[import-untyped]

from entente import __version__
from entente.core.errors import BadValue, FetchError
from entente.pipeline.choices import FetchOutcome
from entente.pipeline.http_sources import prune
from entente.pipeline.retries import Retryable, Sleep, with_retries
from entente.pipeline.sources import (
    Fetched,
    Scope,
    SourceOptions,
    SourceState,
    downloads,
    fetch_stamp,
    gone,
    unread,
)

T = TypeVar("T")

DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"
MAX_PAGE_SIZE = 10_000
SECRET_OPTIONS = frozenset({"password", "token"})
"""Option names whose values are credentials: checked and used, never echoed."""
MASK = "********"
_CHUNK = 1024 * 1024


# ---- options ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxiiOptions:
    """The feed's `options.taxii`: which collection, and how to log in (docs/feeds.md)."""

    collection: str  # its id, or its title when no collection has that id
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    page_size: int = 1000

    @classmethod
    def of(cls, options: Mapping[str, object]) -> TaxiiOptions:
        """Read `options["taxii"]`, refusing unknown names, wrong kinds and half credentials."""
        given = options.get("taxii")
        if not isinstance(given, Mapping):
            raise BadValue(
                "a taxii feed needs options.taxii, an object naming at least the collection",
                field="options.taxii",
                value=None if given is None else type(given).__name__,
            )
        values: dict[str, Any] = {}
        for name, value in given.items():
            values[name] = _checked(name, value)
        if "collection" not in values:
            raise BadValue(
                "options.taxii.collection is required: the collection's id or title",
                field="options.taxii.collection",
            )
        read = cls(**values)
        read.check_credentials()
        return read

    def check_credentials(self) -> None:
        """Basic needs both halves; a token excludes them."""
        if self.token and (self.user or self.password):
            raise BadValue(
                "give options.taxii.user and password, or options.taxii.token, not both",
                field="options.taxii.token",
                value=MASK,
            )
        if self.user and not self.password:
            raise BadValue(
                "options.taxii.user needs options.taxii.password",
                field="options.taxii.password",
            )
        if self.password and not self.user:
            raise BadValue(
                "options.taxii.password needs options.taxii.user",
                field="options.taxii.user",
            )

    def auth(self) -> AuthBase | None:
        """How requests log in: HTTP Basic, a Bearer token, or not at all."""
        if self.token:
            return BearerAuth(self.token)
        if self.user:
            return HTTPBasicAuth(self.user, self.password)
        return None


_TEXT_OPTIONS = ("collection", "user", "password", "token")


def _checked(name: str, value: object) -> object:
    where = f"options.taxii.{name}"
    shown = MASK if name in SECRET_OPTIONS else value
    if name in _TEXT_OPTIONS:
        if not isinstance(value, str) or not value.strip():
            raise BadValue(f"{where} must be non-empty text", field=where, value=shown)
        return value
    if name == "page_size":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"{where} must be a whole number", field=where, value=value)
        if not 1 <= value <= MAX_PAGE_SIZE:
            raise BadValue(f"{where} must be 1 to {MAX_PAGE_SIZE:,}", field=where, value=value)
        return value
    known = ", ".join((*_TEXT_OPTIONS, "page_size"))
    raise BadValue(f"unknown taxii option {name!r}; known: {known}", field=where, value=name)


def masked(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with every credential (a `password` or `token`, at any depth) masked:
    what a feed's page, `entente feed list --json` and the API show."""
    return {name: _masked_value(name, value) for name, value in options.items()}


def _masked_value(name: str, value: Any) -> Any:
    if name in SECRET_OPTIONS and value:
        return MASK
    return masked(value) if isinstance(value, Mapping) else value


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>` (RFC 6750), as Entente's own API tokens are sent.

    taxii2-client's `TokenAuth` sends `Token <key>`, a scheme few servers read.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(********)"


# ---- the connection --------------------------------------------------------------------


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request the feed's timeout: taxii2-client passes none, and requests
    would otherwise wait for ever on a server that stops answering."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self.timeout_seconds = timeout_seconds

    def send(  # noqa: PLR0913 -- the signature of HTTPAdapter.send
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        chosen = self.timeout_seconds if timeout is None else timeout
        return super().send(request, stream, chosen, verify, cert, proxies)


@dataclass(slots=True)
class _Answers:
    """Reads each answer's body itself, bounded by `max_bytes`, and keeps the last answer's
    headers (taxii2-client returns only the parsed JSON, not `X-TAXII-Date-Added-Last`).

    A requests response hook runs before requests reads the body, so a body over the limit
    is refused while being read, never held whole.
    """

    max_bytes: int
    headers: Mapping[str, str] = field(default_factory=dict)
    bytes: int = 0

    def __call__(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response.close()
            raise self._too_large(response.url, f"it is {int(declared):,} bytes")
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > self.max_bytes:
                response.close()
                raise self._too_large(response.url, "the body goes on past it")
        # What requests keeps a body in once read: it then reads nothing more.
        response._content = bytes(body)
        self.headers, self.bytes = response.headers, len(body)

    def _too_large(self, url: str, why: str) -> FetchError:
        return FetchError(
            f"refused {url}: larger than the limit of {self.max_bytes:,} bytes ({why}); "
            "raise options.source.max_bytes or lower options.taxii.page_size",
            field="options.source.max_bytes",
            value=self.max_bytes,
        )


@contextmanager
def _connection(options: SourceOptions, taxii: TaxiiOptions) -> Iterator[tuple[Any, _Answers]]:
    """A taxii2-client connection with the feed's timeout, size limit and credentials."""
    connection = _HTTPConnection(
        version="2.1", auth=taxii.auth(), user_agent=f"entente/{__version__} (feed fetch)"
    )
    session: requests.Session = connection.session
    adapter = _TimeoutAdapter(options.timeout_seconds)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    answers = _Answers(options.max_bytes)
    session.hooks["response"].append(answers)
    try:
        yield connection, answers
    finally:
        connection.close()


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """requests' and taxii2-client's errors as ours (or as worth retrying), naming the URL."""
    try:
        yield
    except requests.HTTPError as exc:
        raise _http_error(url, exc.response) from exc
    except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
        raise Retryable(type(exc).__name__) from exc
    except requests.RequestException as exc:
        raise FetchError(f"could not fetch {url}: {exc}", field="source", value=url) from exc
    except AccessError as exc:
        raise FetchError(
            f"{url}: the collection does not allow reading (its can_read is false for "
            "the feed's credentials)",
            field="source",
            value=url,
        ) from exc
    except TAXIIServiceException as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FetchError(
            f"{url} did not answer as a TAXII 2.1 server: {message}", field="source", value=url
        ) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        # taxii2-client reads headers and JSON members unguarded: an answer of another shape.
        raise FetchError(
            f"{url} did not answer as a TAXII 2.1 server ({type(exc).__name__}: {exc})",
            field="source",
            value=url,
        ) from exc


def _http_error(url: str, response: requests.Response | None) -> Exception:
    code = response.status_code if response is not None else 0
    status = f"HTTP {code} {response.reason if response is not None else ''}".strip()
    if code >= 500 or code == 429:
        return Retryable(status)
    if code in (401, 403):
        return FetchError(
            f"{url}: {status}: the server refused the feed's credentials "
            "(options.taxii.user and password, or token)",
            field="source",
            value=url,
        )
    if code == 404:
        return FetchError(
            f"{url}: {status}: no such TAXII 2.1 API root or collection",
            field="source",
            value=url,
        )
    return FetchError(f"{url}: {status}", field="source", value=url)


# ---- the source ------------------------------------------------------------------------


@dataclass(slots=True)
class TaxiiSource:
    """A TAXII 2.1 collection under the API root `url` (see the module docstring).

    A look lists the API root's collections, picks `taxii.collection` by id (else by
    title), then pages through the objects added after the remembered time (every object
    with `Scope.ALL`), writing each page as a bundle file. An unknown collection, or a
    title several collections share, is a `BadValue` naming `options.taxii.collection`
    and listing the collections there are.
    """

    url: str
    directory: Path
    options: SourceOptions
    taxii: TaxiiOptions
    sleep: Sleep = time.sleep

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        since = state.last_modified if scope is Scope.NEW else ""
        with _connection(self.options, self.taxii) as (connection, answers):
            collection = self._collection(ApiRoot(self.url, conn=connection))
            pulled = self._pull(collection, answers, since)
        prune(self.directory, state, self.options)
        present = downloads(self.directory)
        described = f"collection {collection.title!r} ({collection.id})"
        return Fetched(
            FetchOutcome.NEW if pulled.objects else FetchOutcome.NOTHING_NEW,
            unread(present, state, Scope.NEW),
            gone(state, present),
            last_modified=pulled.added_last or None,
            download=pulled.pages[-1] if pulled.pages else None,
            bytes=pulled.bytes,
            note=pulled.note(described, since),
        )

    def _collection(self, root: Any) -> Any:
        listed = f"{root.url}collections/"
        collections: list[Any] = self._retried(listed, lambda: root.collections)
        wanted = self.taxii.collection
        found = [c for c in collections if c.id == wanted] or [
            c for c in collections if c.title == wanted
        ]
        if len(found) == 1:
            return found[0]
        there = ", ".join(f"{c.id} ({c.title!r})" for c in collections) or "none"
        why = (
            f"no collection with the id or title {wanted!r}"
            if not found
            else f"{len(found)} collections are titled {wanted!r}: give one's id"
        )
        raise BadValue(
            f"{why} under {root.url}; collections there: {there}",
            field="options.taxii.collection",
            value=wanted,
        )

    def _pull(self, collection: Collection, answers: _Answers, since: str) -> _Pulled:
        objects_url = collection.objects_url

        def get_objects(**query: Any) -> dict[str, Any]:
            page: dict[str, Any] = self._retried(
                objects_url, lambda: collection.get_objects(**query)
            )
            return page

        pulled = _Pulled(stamp=fetch_stamp())
        pages = as_pages(get_objects, per_request=self.taxii.page_size, added_after=since or None)
        for envelope in self._guarded(objects_url, pages):
            found = envelope.get("objects") or []
            if not found:
                continue
            pulled.add(self._write(found, pulled), len(found), answers)
        return pulled

    def _guarded(self, url: str, pages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The pages, with as_pages' own reading of each envelope translated too."""
        while True:
            with _translated(url):
                page = next(pages, None)
            if page is None:
                return
            yield page

    def _write(self, found: list[Any], pulled: _Pulled) -> Path:
        """One page as a complete STIX bundle, hidden until whole."""
        target = self.directory / f"taxii-{pulled.stamp}-{len(pulled.pages) + 1:05d}.json"
        partial = target.with_name(f".{target.name}.partial")
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": found}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
            partial.replace(target)
        except OSError as exc:
            raise FetchError(
                f"could not save a page of {self.url} to {target}: {exc.strerror or exc}",
                field="source",
                value=self.url,
            ) from exc
        finally:
            partial.unlink(missing_ok=True)
        return target

    def _retried(self, url: str, call: Callable[[], T]) -> T:
        def translated() -> T:
            with _translated(url):
                return call()

        return with_retries(url, translated, self.options, self.sleep)


@dataclass(slots=True)
class _Pulled:
    """What one look pulled: the page files, their objects and bytes, the last added time."""

    stamp: str
    pages: list[Path] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    added_last: str = ""
    unstamped: int = 0  # pages whose answer had no X-TAXII-Date-Added-Last

    def add(self, page: Path, objects: int, answers: _Answers) -> None:
        self.pages.append(page)
        self.objects += objects
        self.bytes += answers.bytes
        last = answers.headers.get(DATE_ADDED_LAST, "")
        if last:
            self.added_last = last
        else:
            self.unstamped += 1

    def note(self, collection: str, since: str) -> str:
        after = f"added after {since}" if since else "all there is"
        parts = [f"{self.objects} object(s) in {len(self.pages)} page(s) of {collection}, {after}"]
        if self.unstamped:
            parts.append(
                f"{self.unstamped} page(s) came without {DATE_ADDED_LAST}: the next look may "
                "fetch them again (de-duplication stores nothing twice)"
            )
        return "; ".join(parts)
