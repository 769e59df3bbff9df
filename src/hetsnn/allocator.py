"""Use tcmalloc where it is installed: XLA:CPU's large temporaries then cost less.

XLA:CPU allocates a program's large temporaries anew on every call; glibc's malloc serves
them by mmap, so every call page-faults and zeroes them again. tcmalloc keeps them. Measured
here (2-core CPU, docs/cost.md): an MNIST Neuron-arm generation at the paper's settings
took 0.36 s with glibc and 0.18 s with tcmalloc preloaded. tcmalloc is never required.

The ``hetsnn`` command re-executes itself once with tcmalloc in ``LD_PRELOAD`` when it finds
the library (Debian/Ubuntu: ``apt install libtcmalloc-minimal4``) and it is not loaded yet;
``HETSNN_TCMALLOC=0`` turns that off, ``HETSNN_TCMALLOC=/path/libtcmalloc.so`` names the
library. Library users preload it themselves: ``LD_PRELOAD=/path/libtcmalloc_minimal.so.4
python ...``.
"""

import ctypes.util
import os
import sys
from pathlib import Path

ENV = "HETSNN_TCMALLOC"
_REEXECUTED = "HETSNN_TCMALLOC_TRIED"  # set before the re-exec: never loop
_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/libtcmalloc_minimal.so.4",
)


def allocator() -> str:
    """``"tcmalloc"`` if this process has tcmalloc loaded, else ``"system"``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "system"
    return "tcmalloc" if "tcmalloc" in maps else "system"


def find_tcmalloc(environ=os.environ) -> str | None:
    """Path of a tcmalloc library to preload, or None (switched off, or none installed)."""
    setting = environ.get(ENV, "")
    if setting == "0":
        return None
    if setting:
        return setting if Path(setting).is_file() else None
    for path in _CANDIDATES:
        if Path(path).is_file():
            return path
    name = ctypes.util.find_library("tcmalloc_minimal") or ctypes.util.find_library("tcmalloc")
    return name if name and Path(name).is_absolute() and Path(name).is_file() else None


def preload_environment(environ, library: str | None, loaded: bool) -> dict | None:
    """The environment to re-execute with, or None to run as we are."""
    if (
        library is None
        or loaded
        or environ.get(_REEXECUTED)
        or not sys.platform.startswith("linux")
    ):
        return None
    preload = " ".join(p for p in (library, environ.get("LD_PRELOAD", "")) if p)
    return {**environ, "LD_PRELOAD": preload, _REEXECUTED: "1"}


def reexec_with_tcmalloc(argv: list[str]) -> None:
    """Replace this process by ``python -m hetsnn.cli argv`` with tcmalloc preloaded, when
    :func:`preload_environment` says so; otherwise return."""
    environ = preload_environment(os.environ, find_tcmalloc(), allocator() == "tcmalloc")
    if environ is not None:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "hetsnn.cli", *argv], environ)
