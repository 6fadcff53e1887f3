"""The view cache's backends and entries: bytes in, bytes out, never a pickle.

Whoever can write to the cache directory or to Redis must not be able to make a worker run
code, nor make it serve one view's result for another. So:

* the backends (:class:`FileSystemCache`, :class:`RedisCache`: flask-caching's, with
  :class:`BytesSerializer` in place of their pickle) store bytes and plain integers only
  (the file cache's entry count), and read nothing else back: a pickle planted in the cache is
  returned to nobody, it is not a cache entry;
* an entry (:func:`encode`) is the ``.npz`` export contract (:mod:`landscapes.io.npz`: plain
  arrays plus the JSON ``meta``) plus the entry's own request key; :func:`decode` reads it with
  ``allow_pickle=False`` and checks the key, so an entry copied over another key, an unreadable
  entry or one of the wrong kind raises :class:`BadEntry` (the caller treats it as a miss, logs
  it, and overwrites it with the recomputed view).

The file cache also removes the temporary files an interrupted write leaves behind
(``tmp*.__wz_cache``): its own at once when a write fails (a full disk), any other's older than
:data:`STRAY_AGE` seconds when a process starts; and it keeps the reason of its last failed
write (:attr:`FileSystemCache.last_error`: disk full, read-only file system, ...) for the health
checks (:mod:`app.health`) to report.
"""

import errno
import logging
import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from cachelib.base import BaseCache as CachelibBaseCache
from flask_caching.backends import filesystemcache, rediscache

from landscapes.errors import LandscapeError
from landscapes.io.npz import from_npz_bytes, to_npz_bytes
from landscapes.registry import Result
from landscapes.results import from_arrays
from landscapes.slices import Slice

log = logging.getLogger(__name__)

KEY_ENTRY = "request_key"  # the array of an entry that holds its own request key
STRAY_AGE = 60.0  # seconds after which a temporary file of the file cache is an orphan


class BadEntry(Exception):
    """A cache entry that cannot be served (unreadable, another request's, the wrong kind)."""


class BytesSerializer:
    """Bytes (tagged ``b``) and ints (ASCII digits, as Redis' INCR keeps them); nothing else.

    Reading returns bytes or an int, or None (logged) for anything else: nothing is unpickled.
    """

    def dumps(self, value: Any) -> bytes:
        if type(value) is int:
            return str(value).encode("ascii")
        if isinstance(value, bytes | bytearray):
            return b"b" + bytes(value)
        raise TypeError(f"the view cache stores bytes and ints only, not {type(value).__name__}")

    def loads(self, data: bytes | None) -> bytes | int | None:
        if data is None:
            return None
        if data[:1] == b"b":
            return data[1:]
        try:
            return int(data)
        except ValueError:
            log.warning("a cache value is neither bytes nor an int (%d bytes starting %r): "
                        "ignored", len(data), data[:8])
            return None

    def dump(self, value: Any, f) -> None:
        f.write(self.dumps(value))

    def load(self, f) -> bytes | int | None:
        return self.loads(f.read())


def encode(key: str, result: Result) -> bytes:
    """The cache entry of ``result`` under ``key``: its arrays, meta and key as ``.npz`` bytes."""
    arrays = result.to_arrays()
    if KEY_ENTRY in arrays:
        raise ValueError(f"{KEY_ENTRY!r} is reserved for the cache entry's key")
    return to_npz_bytes({**arrays, KEY_ENTRY: np.array(key)}, result.meta)


def decode(key: str, data: object) -> Result:
    """The result in the entry ``data`` read for ``key``; BadEntry says why it cannot be served."""
    if not isinstance(data, bytes):
        raise BadEntry(f"not an entry (a {type(data).__name__})")
    try:
        arrays, meta = from_npz_bytes(data)
    except LandscapeError as exc:
        raise BadEntry(str(exc)) from None
    stored = arrays.pop(KEY_ENTRY, None)
    if stored is None or stored.shape != () or str(stored) != key:
        raise BadEntry(f"the entry is for another request ({None if stored is None else str(stored)!r})")
    if not isinstance(meta, dict) or not isinstance(meta.get("kind"), str):
        raise BadEntry("the entry's meta names no result kind")
    try:
        result = from_arrays(arrays, meta)
        if isinstance(result, Slice) and result.values.ndim != len(result.axes):
            raise ValueError(f"{result.values.ndim}-D values on {len(result.axes)} axes")
    except Exception as exc:  # a kind's arrays missing or malformed
        raise BadEntry(f"not a {meta['kind']} result ({type(exc).__name__}: {exc})") from None
    return result


def describe_os_error(exc: BaseException, where: str | Path) -> str:
    """A sentence naming the cause of a failed write: a full disk, a read-only file system, ..."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return f"the disk holding {where} is full ({exc.strerror})"  # type: ignore[attr-defined]
    if code == errno.EROFS:
        return f"{where} is on a read-only file system"
    if code in (errno.EACCES, errno.EPERM):
        return f"{where} is not writable (permission denied)"
    if code == errno.ENOTDIR:
        return f"{where} cannot be a directory (a file is in its way)"
    return f"{where}: {type(exc).__name__}: {exc}"


def remove_strays(directory: str | Path, older_than: float = STRAY_AGE) -> int:
    """Remove the file cache's temporary files older than ``older_than`` s; how many were."""
    removed = 0
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith("tmp") and name.endswith(FileSystemCache._fs_transaction_suffix)):
            continue
        path = os.path.join(directory, name)
        try:
            if now - os.stat(path).st_mtime >= older_than:
                os.unlink(path)
                removed += 1
        except OSError:  # gone already, or not ours to remove
            pass
    if removed:
        log.warning("removed %d temporary file(s) left in %s by interrupted writes",
                    removed, directory)
    return removed


class FileSystemCache(filesystemcache.FileSystemCache):
    """flask-caching's file cache, storing bytes only (no pickle), cleaning up after itself."""

    serializer = BytesSerializer()  # type: ignore[assignment]

    def __init__(self, cache_dir: str, *args: Any, **kwargs: Any) -> None:
        self.last_error: str | None = None
        try:
            super().__init__(cache_dir, *args, **kwargs)
        except OSError as exc:  # the directory cannot be made: every get misses, sets fail
            self.last_error = describe_os_error(exc, cache_dir)
            log.warning("the view cache cannot be used: %s", self.last_error)
            CachelibBaseCache.__init__(self, kwargs.get("default_timeout", 300))
            self._path = cache_dir
            self._threshold = kwargs.get("threshold", 500)
            self._hash_method = kwargs.get("hash_method") or filesystemcache.hashlib.sha256
            self._mode = kwargs.get("mode") or 0o600
        remove_strays(cache_dir)

    def set(self, key: str, value: Any, timeout: Any = None, mgmt_element: bool = False) -> bool:
        """cachelib's ``set``, but a failed write removes its temporary file and keeps why."""
        if mgmt_element:
            timeout = 0
        else:
            self._prune()
        expires = self._normalize_timeout(timeout)
        filename = self._get_filename(key)
        overwrite = os.path.isfile(filename)
        tmp = None
        try:
            data = struct.pack("I", expires) + self.serializer.dumps(value)
            fd, tmp = tempfile.mkstemp(suffix=self._fs_transaction_suffix, dir=self._path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self._run_safely(os.replace, tmp, filename)
            tmp = None
            self._run_safely(os.chmod, filename, self._mode)
        except OSError as exc:
            self.last_error = describe_os_error(exc, self._path)
            log.warning("cache entry not written: %s", self.last_error)
            return False
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.last_error = None
        if not overwrite and not mgmt_element:
            self._update_count(delta=1)
        return True


class RedisCache(rediscache.RedisCache):
    """flask-caching's Redis cache, storing bytes only (no pickle)."""

    serializer = BytesSerializer()  # type: ignore[assignment]
