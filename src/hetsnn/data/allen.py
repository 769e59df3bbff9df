"""Membrane time constants of real cells from the Allen Cell Types Database.

The table is the database's specimen export (``cell_types_specimen_details.csv``: one row
per recorded cell, ``ef__tau`` the membrane time constant in ms). Where it comes from, in
this order, as for the image data sets: ``data_dir`` or ``$HETSNN_DATA_DIR`` (a folder
holding ``allen-cell-types/cell_types_specimen_details.csv``, e.g. ``../shared/data``),
the cache ``$HETSNN_CACHE`` (default ``~/.cache/hetsnn``), then a download of the same
table through the Allen Brain Map API (RMA query of ``ApiCellTypesSpecimenDetail``).
"""

import csv
import io
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hetsnn.data.images import CACHE_ENV, DATA_DIR_ENV, DataNotFound
from hetsnn.storage import atomic_write_bytes

FOLDER, FILENAME = "allen-cell-types", "cell_types_specimen_details.csv"
API_URL = (
    "https://api.brain-map.org/api/v2/data/query.csv?"
    "criteria=model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eqall]"
)
REQUIRED_COLUMNS = (
    "donor__species",
    "structure_parent__acronym",
    "structure__layer",
    "tag__dendrite_type",
    "ef__tau",
)


@dataclass(frozen=True)
class CellPopulation:
    """A selection of cells: every given field must match (None: any value)."""

    label: str
    species: str
    region: str
    dendrite_type: str
    layer: str | None = None

    def matches(self, row: dict) -> bool:
        return (
            row["donor__species"].lower() == self.species.lower()
            and row["structure_parent__acronym"] == self.region
            and row["tag__dendrite_type"] == self.dendrite_type
            and (self.layer is None or row["structure__layer"] == self.layer)
        )


# SCIENCE.md experiment 4: the two biological references.
POPULATIONS = (
    CellPopulation("mouse VISp L4 spiny", "Mus musculus", "VISp", "spiny", layer="4"),
    CellPopulation("human MTG spiny", "Homo Sapiens", "MTG", "spiny"),
)


def read_table(data_dir: Path | None = None, *, download: bool = True) -> list[dict]:
    """Rows of the specimen table as dicts of strings."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    cache = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "hetsnn"))
    for folder in ([Path(data_dir)] if data_dir else []) + [cache]:
        path = folder / FOLDER / FILENAME
        if path.exists():
            return _parse(path.read_text(encoding="utf-8"), str(path))
    problem = "downloads are off"
    if download:
        try:
            with urllib.request.urlopen(API_URL, timeout=120) as response:  # noqa: S310
                raw = response.read()
            rows = _parse(raw.decode("utf-8"), API_URL)
            atomic_write_bytes(cache / FOLDER / FILENAME, raw)
            return rows
        except OSError as error:
            problem = f"the download failed ({error})"
    raise DataNotFound(
        f"{FOLDER}/{FILENAME} not found in {data_dir or '(no data dir)'} or {cache}, and "
        f"{problem}: set {DATA_DIR_ENV} (or --data-dir) to a folder holding {FOLDER}/{FILENAME}, "
        "or allow the download on a machine with network access"
    )


def _parse(text: str, origin: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{origin}: not an Allen Cell Types specimen table (no {missing})")
    return list(reader)


def membrane_time_constants(rows: list[dict], population: CellPopulation) -> np.ndarray:
    """``ef__tau`` (ms) of the cells of ``population`` that have one, ``(cells,)`` float64."""
    taus = [row["ef__tau"] for row in rows if population.matches(row)]
    return np.array([float(t) for t in taus if t not in ("", None)], dtype=np.float64)
