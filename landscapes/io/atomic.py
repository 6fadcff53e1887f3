"""Files written whole or not at all: a private temporary file beside the target, renamed onto
it. A concurrent reader sees the old file or the whole new one, two writers never share a
temporary file, and a failed write leaves no temporary file behind."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object], prefix: str | None = None,
                     suffix: str = ".tmp") -> Path:
    """``write(tmp)`` into a new temporary file in ``path``'s folder (named ``prefix`` -- by
    default ``path.stem + "."`` -- then random characters, then ``suffix``), then rename it to
    ``path``; the folder is made if missing. On any failure the temporary file is removed and
    the error raised. Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.stem + "." if prefix is None
                                else prefix, suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
