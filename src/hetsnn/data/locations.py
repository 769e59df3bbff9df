"""Where data files are looked for, in order, for every loader of the project:

1. ``data_dir`` (an argument) or the environment variable ``HETSNN_DATA_DIR``, e.g.
   ``../shared/data`` on offline machines;
2. the cache ``$HETSNN_CACHE`` (default ``~/.cache/hetsnn``), which downloads fill.
"""

import os
from pathlib import Path

DATA_DIR_ENV, CACHE_ENV = "HETSNN_DATA_DIR", "HETSNN_CACHE"


class DataNotFound(FileNotFoundError):
    """No local copy and no download: the message names both ways to provide the data."""


def search_folders(data_dir: Path | str | None = None) -> tuple[list[Path], Path]:
    """``(folders to read from, in order; the cache folder downloads go to)``."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    cache = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "hetsnn"))
    return ([Path(data_dir)] if data_dir else []) + [cache], cache


def not_found(missing: str, folders: list[Path], problem: str, file: str = "") -> DataNotFound:
    """The error for ``missing`` (a path relative to a data folder) that none of ``folders``
    holds; ``file`` names the file a user should put there (default: ``missing``)."""
    *given, cache = folders
    return DataNotFound(
        f"{missing} not found in {given[0] if given else '(no data dir)'} or {cache}, and "
        f"{problem}: set {DATA_DIR_ENV} (or --data-dir) to a folder holding {file or missing}, "
        "or allow the download on a machine with network access"
    )
