"""Atomic files, locks and pytree checkpoints for run directories.

Every file is written to a temporary sibling (``.NAME.*.tmp``) and moved into place with
``os.replace``, so an interrupted run leaves either the old file or the new one, never half
of one; a temporary left by a killed process is removed by the next process that holds the
directory's lock (:func:`locked`, :func:`remove_stale_temporaries`).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hetsnn.errors import RunDirError


class DamagedFile(RunDirError, ValueError):
    """A run-directory file that cannot be read as what it should hold."""


RESTORE = "restore it, or remove it and what it belongs to and run again"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(tmp: str, path: Path) -> None:
    """Give ``tmp`` the permissions of a normally created file and rename it to ``path``."""
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates files readable by the owner only
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def as_json(data: Any) -> Any:
    """``data`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(data))


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path, kind: type | None = None) -> Any:
    """The JSON value in ``path`` (of type ``kind`` when given).

    Raises:
        DamagedFile: the file is not JSON (truncated, empty, garbage), is a folder, or does
            not hold a ``kind``; the message names it.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (ValueError, IsADirectoryError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedFile(f"{path} is damaged ({error}): {RESTORE}") from None
    if kind is not None and not isinstance(data, kind):
        raise DamagedFile(
            f"{path} is damaged (it holds {type(data).__name__}, not a JSON "
            f"{'object' if kind is dict else kind.__name__}): {RESTORE}"
        )
    return data


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append rows to a JSON-lines file (flushed and synced)."""
    with open(path, "a") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path, *, torn_tail_ok: bool = False) -> list[dict]:
    """The rows of a JSON-lines file ([] if it does not exist).

    With ``torn_tail_ok`` an undecodable *last* line (a crash inside an append) is dropped.

    Raises:
        DamagedFile: a line that is not a JSON object (a torn last one without
            ``torn_tail_ok``), naming the file and the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text()
    except (UnicodeDecodeError, IsADirectoryError) as error:
        raise DamagedFile(f"{path} is damaged ({error}): {RESTORE}") from None
    lines = text.splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            if torn_tail_ok and number == len(lines) and not text.endswith("\n"):
                break
            raise DamagedFile(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


@contextlib.contextmanager
def locked(folder: Path, what: str):
    """Hold an exclusive lock on ``folder`` (its file ``.lock``) for the ``with`` block.

    Raises:
        BlockingIOError: another process holds it; the message names its pid.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise BlockingIOError(
                f"{folder} is in use by another process (pid {holder}) {what}: wait for it "
                "to finish or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def remove_stale_temporaries(folder: Path, recursive: bool = False) -> None:
    """Delete the ``.NAME.*.tmp*`` files a killed writer left in ``folder`` (and in its
    subfolders with ``recursive``); call it while holding the folder's lock, so no live
    writer owns them."""
    folder = Path(folder)
    for leftover in folder.rglob(".*.tmp*") if recursive else folder.glob(".*.tmp*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def truncate_jsonl(path: Path, keep) -> None:
    """Keep only the rows for which ``keep(row)`` is true (atomically); a torn last line
    is dropped."""
    path = Path(path)
    if path.exists():
        rows = [row for row in read_jsonl(path, torn_tail_ok=True) if keep(row)]
        atomic_write_bytes(
            path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
        )


def _is_key(x) -> bool:
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def save_pytree(path: Path, tree: Any, **scalars) -> None:
    """Save the leaves of ``tree`` (typed PRNG keys as their raw data) plus named metadata
    (numbers, strings or 1-D sequences: :func:`load_pytree` returns them as Python values),
    all in one atomic file."""
    leaves = jax.tree.leaves(tree)
    arrays = {
        f"leaf_{i:05d}": np.asarray(jax.random.key_data(x) if _is_key(x) else x)
        for i, x in enumerate(leaves)
    }
    arrays.update({f"meta_{name}": np.asarray(value) for name, value in scalars.items()})
    save_arrays(path, **arrays)


def save_arrays(path: Path, **arrays) -> None:
    """``np.savez`` to ``path``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays saved by :func:`save_arrays`, by name (DamagedFile if unreadable)."""
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DamagedFile(f"{path} is damaged ({error}): {RESTORE}") from None


def load_pytree(path: Path, template: Any) -> tuple[Any, dict]:
    """Load leaves saved by :func:`save_pytree` into the structure of ``template``, and
    the metadata saved with them.

    Raises:
        DamagedFile: the file is unreadable, lacks a leaf, or its leaves do not match the
            template's shapes and dtypes.
    """
    stored = load_arrays(path)
    leaves, treedef = jax.tree.flatten(template)
    restored = []
    for i, like in enumerate(leaves):
        name = f"leaf_{i:05d}"
        if name not in stored:
            raise DamagedFile(f"{path} is damaged (no {name}): {RESTORE}")
        value = stored[name]
        if _is_key(like):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        else:
            value = jnp.asarray(value)
        if value.shape != like.shape or value.dtype != like.dtype:
            raise DamagedFile(
                f"{path} does not match this run (leaf {i}: {value.shape} {value.dtype} vs "
                f"{like.shape} {like.dtype}): {RESTORE}"
            )
        restored.append(value)
    metadata = {
        name[5:]: value.item() if value.ndim == 0 else value.tolist()
        for name, value in stored.items()
        if name.startswith("meta_")
    }
    return jax.tree.unflatten(treedef, restored), metadata


def fingerprint(data: Any) -> str:
    """SHA-256 of ``data``'s JSON with sorted keys: equal data, equal fingerprint (a
    checkpoint carries its config's, so another run's checkpoint is never resumed)."""
    text = json.dumps(as_json(data), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
