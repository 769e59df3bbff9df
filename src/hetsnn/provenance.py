"""What produced a result: package versions, the git commit, the backend and XLA_FLAGS.

Recorded in every ``experiment.json`` (the first start) and ``result.json`` (the process
that finished the run), and printed by ``hetsnn --version``.
"""

import functools
import os
import subprocess
from importlib import metadata
from pathlib import Path

import jax

from hetsnn import __version__

PACKAGES = ("jax", "jaxlib", "evosax", "gymnax", "brax", "optax", "flax", "numpy", "nir")


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def git_commit() -> dict | None:
    """``{"commit": sha, "dirty": bool}`` of the checkout hetsnn is imported from, or None
    when it is not a git checkout (an installed wheel) or git is missing."""
    here = Path(__file__).resolve().parent

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def provenance() -> dict:
    """The provenance record (a JSON-ready dict)."""
    devices = jax.devices()
    return {
        "hetsnn": __version__,
        "git": git_commit(),
        "packages": {name: _package_version(name) for name in PACKAGES},
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind if devices else None,
        "device_count": len(devices),
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def version_line() -> str:
    """``hetsnn 0.1.0 (git 1a2b3c4d, jax 0.10.2, cpu)`` for ``hetsnn --version``."""
    git = git_commit()
    commit = f"git {git['commit'][:8]}{'+dirty' if git['dirty'] else ''}" if git else "no git"
    return f"hetsnn {__version__} ({commit}, jax {jax.__version__}, {jax.default_backend()})"
