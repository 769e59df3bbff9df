"""Atomic files and pytree checkpoints for run directories.

Every file is written to a temporary sibling and moved into place with ``os.replace``, so
an interrupted run leaves either the old file or the new one, never half of one.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


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


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append rows to a JSON-lines file (flushed and synced)."""
    with open(path, "a") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_jsonl(path: Path, keep) -> None:
    """Keep only the rows for which ``keep(row)`` is true (atomically)."""
    path = Path(path)
    if path.exists():
        rows = [row for row in read_jsonl(path) if keep(row)]
        atomic_write_bytes(
            path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
        )


def _is_key(x) -> bool:
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def save_pytree(path: Path, tree: Any, **scalars) -> None:
    """Save the leaves of ``tree`` (typed PRNG keys as their raw data) plus named scalars."""
    leaves = jax.tree.leaves(tree)
    arrays = {
        f"leaf_{i:05d}": np.asarray(jax.random.key_data(x) if _is_key(x) else x)
        for i, x in enumerate(leaves)
    }
    arrays.update({f"meta_{name}": np.asarray(value) for name, value in scalars.items()})
    save_arrays(path, **arrays)


def save_arrays(path: Path, **arrays) -> None:
    """``np.savez`` to ``path``, atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=Path(path).parent, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays saved by :func:`save_arrays`, by name."""
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def load_pytree(path: Path, template: Any) -> tuple[Any, dict]:
    """Load leaves saved by :func:`save_pytree` into the structure of ``template``.

    Raises ValueError if the stored leaves do not match the template's shapes and dtypes.
    """
    leaves, treedef = jax.tree.flatten(template)
    with np.load(path) as stored:
        restored = []
        for i, like in enumerate(leaves):
            value = stored[f"leaf_{i:05d}"]
            if _is_key(like):
                value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
            else:
                value = jnp.asarray(value)
            if value.shape != like.shape or value.dtype != like.dtype:
                raise ValueError(
                    f"checkpoint {path} does not match this run (leaf {i}: "
                    f"{value.shape} {value.dtype} vs {like.shape} {like.dtype})"
                )
            restored.append(value)
        scalars = {k[5:]: stored[k].item() for k in stored.files if k.startswith("meta_")}
    return jax.tree.unflatten(treedef, restored), scalars
