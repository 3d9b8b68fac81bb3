"""Writing files so that a crash never leaves half a file under the final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it is renamed to ``path``.

    The temporary name keeps ``path``'s extension (for writers that infer the format
    from it) and the final file gets the permissions a plain ``open()`` would give.
    On any error, including KeyboardInterrupt, the temporary file is removed and
    nothing appears under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomically(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def check_output_path(text, folder: bool = False) -> Path:
    """``Path(text)`` if a file (``folder=False``) or a folder could be written there, else ValueError.

    Refused: an empty path, an existing folder where a file is wanted (or a file where a
    folder is), a path under a file, a folder this process cannot write in. The check writes
    and removes a temporary file in the nearest folder that exists: the only test that tells
    a read-only folder or file system, also for root. Commands call it before their work.
    """
    if not str(text).strip():
        raise ValueError("the output path is empty")
    path = Path(text)
    if path.exists():
        if folder and not path.is_dir():
            raise ValueError(f"{path} exists and is not a folder")
        if not folder and path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name")
    probe = path if folder and path.is_dir() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{path}: {probe} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise ValueError(f"{path}: cannot write in {probe}/ ({exc.strerror or exc})") from None
    return path
