"""The media store: originals and renditions by key, behind a small interface.

``LocalStorage`` keeps them in a directory (``MEDIA_ROOT``); an S3-compatible store
implements the same four methods. Keys are ``originals/<image id>`` and
``renditions/<image id>/<width>-<hash>.<ext>``: only the renditions area is ever served,
at ``MEDIA_URL`` + the part after ``renditions/`` (a rendition's "path").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from services.settings import get_settings

ORIGINALS = "originals"
RENDITIONS = "renditions"


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def path(self, key: str) -> Path | None:
        """A local file holding ``key`` (None when the store has no local files)."""


def original_key(image_id: str) -> str:
    return f"{ORIGINALS}/{image_id}"


def renditions_prefix(image_id: str) -> str:
    return f"{RENDITIONS}/{image_id}/"


def rendition_key(path: str) -> str:
    """The key of a rendition whose public path (under ``MEDIA_URL``) is ``path``."""
    return f"{RENDITIONS}/{path}"


class LocalStorage:
    """Files under ``root``; each write lands whole (temporary file, then rename)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _file(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"key outside the media root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._file(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)

    def get(self, key: str) -> bytes:
        return self._file(key).read_bytes()

    def delete_prefix(self, prefix: str) -> None:
        """Delete ``prefix`` as a file or as a directory of files (missing: nothing)."""
        path = self._file(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def path(self, key: str) -> Path | None:
        path = self._file(key)
        return path if path.is_file() else None


def storage() -> Storage:
    """The configured store (``MEDIA_ROOT``)."""
    return LocalStorage(get_settings().media_root)
