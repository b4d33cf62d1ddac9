"""Files uploaded for an import with preview, kept on disk between the preview and the
confirmation, so the analyst confirms exactly the bytes previewed without sending them twice.

Nothing of the file enters the database until the confirmation. A file belongs to one user
and one event (both in its name, checked on use); one not confirmed within a day is removed
when the next preview is made.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from entente.core.config import Settings
from entente.core.errors import BadValue, NotFound, PayloadTooLarge

PENDING_DIRECTORY = "pending-imports"
KEPT_SECONDS = 24 * 3600
CHUNK = 1 << 20
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class ImportFormat(StrEnum):
    STIX = "stix"
    MISP = "misp"

    @property
    def label(self) -> str:
        return "STIX 2.1 bundle" if self is ImportFormat.STIX else "MISP event JSON"


@dataclass(frozen=True, slots=True)
class PendingImport:
    """An uploaded file waiting for its confirmation; `token` names it in the form."""

    token: str
    format: ImportFormat
    path: Path


def save_upload(
    settings: Settings, owner: tuple[int, int], import_format: ImportFormat, upload: IO[bytes]
) -> PendingImport:
    """Copy the upload to disk; `owner` is (user id, event id). Refuses an empty file and
    one larger than `max_body_bytes`."""
    directory = settings.data_dir / PENDING_DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale(directory)
    token = secrets.token_urlsafe(16)
    path = directory / _file_name(owner, token, import_format)
    size = 0
    with path.open("wb") as out:
        while chunk := upload.read(CHUNK):
            size += len(chunk)
            if size > settings.max_body_bytes:
                out.close()
                path.unlink()
                raise PayloadTooLarge(
                    f"the file is larger than {settings.max_body_bytes:,} bytes; import it "
                    "on the server with `entente stix import` or `entente misp import`",
                    field="file",
                )
            out.write(chunk)
    if size == 0:
        path.unlink()
        raise BadValue("the file is empty", field="file")
    return PendingImport(token, import_format, path)


def pending_upload(
    settings: Settings, owner: tuple[int, int], import_format: ImportFormat, token: str
) -> PendingImport:
    """The file previewed by this user for this event, or NotFound (expired or not theirs)."""
    if _TOKEN.match(token):
        path = settings.data_dir / PENDING_DIRECTORY / _file_name(owner, token, import_format)
        if path.is_file():
            return PendingImport(token, import_format, path)
    raise NotFound(
        "this preview has expired or was already imported; upload the file again",
        field="file",
    )


def discard(pending: PendingImport) -> None:
    pending.path.unlink(missing_ok=True)


def _file_name(owner: tuple[int, int], token: str, import_format: ImportFormat) -> str:
    user_id, event_id = owner
    return f"{user_id}-{event_id}-{token}.{import_format.value}.json"


def _remove_stale(directory: Path) -> None:
    oldest = time.time() - KEPT_SECONDS
    for path in directory.glob("*.json"):
        if path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
