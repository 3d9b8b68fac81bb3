"""Record files: named numpy arrays plus JSON metadata in one ``.npz``.

Written atomically (see :mod:`envs.atomic`) and read without pickle, with one-line
errors that name the file and the problem. Datasets and saved episodes use them.
"""

from __future__ import annotations

import json
import tokenize
import zipfile
from pathlib import Path

import numpy as np

from envs.atomic import atomic_path


def save_record(path, fmt: str, version: int, metadata: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` and ``metadata`` (tagged with ``fmt`` and ``version``) to ``path``."""
    path = Path(path)
    meta = dict(metadata, format=fmt, format_version=version)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, metadata=np.array(json.dumps(meta)), **arrays)
    return path


def load_record(path, fmt: str, version: int | tuple[int, ...], names, error: type[Exception], kind: str):
    """``(metadata, arrays)`` of a record file holding at least the arrays ``names``, of format
    ``version`` (or one of several, for a reader that knows older versions too).

    Raises:
        error: the file is missing, damaged, not a ``fmt`` record, or of another version;
            the message names the file and says which (``kind`` is the word for the file).
    """
    path = Path(path)
    article = "an" if kind[:1] in "aeiou" else "a"
    if not path.exists():
        raise error(f"{path}: no such {kind} file")
    if not path.is_file():
        raise error(f"{path}: is not a regular file (a folder, device or pipe), not {article} {kind} file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "metadata" not in z.files or not set(names) <= set(z.files):
                raise error(f"{path}: not a roadschool {kind} (missing arrays)")
            meta = json.loads(str(z["metadata"]))
            arrays = {k: z[k] for k in names}
    except error:
        raise
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        MemoryError,
        RecursionError,
        NotImplementedError,
        RuntimeError,
        OverflowError,
        TypeError,
        IndexError,
        SyntaxError,
        tokenize.TokenError,
    ) as exc:  # numpy parses a damaged .npy header with Python's tokenizer
        raise error(f"{path}: damaged or not {article} {kind} file ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise error(f"{path}: not a roadschool {kind}")
    if meta.get("format_version") not in (version if isinstance(version, tuple) else (version,)):
        raise error(f"{path}: {kind} format version {meta.get('format_version')} is not supported")
    return meta, arrays
