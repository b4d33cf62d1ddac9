"""The export cache on disk: whole entries only, least recently used evicted, keys that
separate every visibility scope."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entente.core.access import ANONYMOUS, Viewer
from entente.interop.exports.cache import ExportCache, cache_key, visibility_scope


def test_an_entry_is_kept_only_once_it_has_all_gone_out(tmp_path: Path) -> None:
    cache = ExportCache(tmp_path)
    stream = cache.written("half", iter([b"one", b"two"]))
    assert next(stream) == b"one"
    stream.close()  # the client went away after the first block
    assert not cache.has("half") and list(tmp_path.iterdir()) == []
    assert b"".join(cache.written("whole", iter([b"one", b"two"]))) == b"onetwo"
    stored = cache.opened("whole")
    assert stored is not None and b"".join(stored) == b"onetwo"
    assert cache.opened("missing") is None


def test_a_failed_rendering_leaves_no_entry(tmp_path: Path) -> None:
    def failing() -> list[bytes]:
        raise RuntimeError("database went away")

    cache = ExportCache(tmp_path)
    with pytest.raises(RuntimeError):
        b"".join(cache.written("broken", iter(failing())))
    assert list(tmp_path.iterdir()) == []


def test_the_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    cache = ExportCache(tmp_path, max_entries=2)
    for number, key in enumerate(("a", "b")):
        b"".join(cache.written(key, iter([key.encode()])))
        os.utime(tmp_path / f"{key}.export", (1_000 + number, 1_000 + number))
    opened = cache.opened("a")  # used now: newer than b
    assert opened is not None
    b"".join(cache.written("c", iter([b"c"])))
    assert cache.has("a") and cache.has("c") and not cache.has("b")
    assert b"".join(opened) == b"a"


def test_keys_differ_for_every_organisation_and_group_set() -> None:
    def key(viewer: Viewer) -> str:
        return cache_key({"format": "text", "scope": visibility_scope(viewer)})

    same_org = [Viewer(user_id=user, organisation_id=1) for user in (1, 2)]
    assert key(same_org[0]) == key(same_org[1])  # the user id is no input of the predicate
    others = [
        Viewer(organisation_id=2),
        Viewer(organisation_id=1, sharing_group_ids=frozenset({5})),
        ANONYMOUS,
        # Group ids without an organisation count for nothing in the predicate either.
        Viewer(sharing_group_ids=frozenset({5})),
    ]
    keys = {key(viewer) for viewer in others}
    assert len(keys) == 3 and key(same_org[0]) not in keys
    assert key(ANONYMOUS) == key(Viewer(sharing_group_ids=frozenset({5})))
