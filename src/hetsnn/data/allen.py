"""Membrane time constants of real cells from the Allen Cell Types Database.

The table is the database's specimen export (``cell_types_specimen_details.csv``: one row
per recorded cell, ``ef__tau`` the membrane time constant in ms). Where it comes from, in
this order: the data folder and the cache of :mod:`hetsnn.data.locations` (holding
``allen-cell-types/cell_types_specimen_details.csv``; e.g. ``../shared/data``), then a
download of the same table through the Allen Brain Map API (RMA query of
``ApiCellTypesSpecimenDetail``) into the cache.
"""

import csv
import io
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hetsnn.data.locations import DataNotFound, not_found, search_folders
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


# docs/specification.md experiment 4: the two biological references.
POPULATIONS = (
    CellPopulation("mouse VISp L4 spiny", "Mus musculus", "VISp", "spiny", layer="4"),
    CellPopulation("human MTG spiny", "Homo Sapiens", "MTG", "spiny"),
)


def read_table(data_dir: Path | None = None, *, download: bool = True) -> list[dict]:
    """Rows of the specimen table as dicts of strings."""
    folders, cache = search_folders(data_dir)
    for folder in folders:
        path = folder / FOLDER / FILENAME
        if path.exists():
            try:
                return _parse(path.read_text(encoding="utf-8"), str(path))
            except (ValueError, OSError, csv.Error) as error:  # garbage, unreadable, a folder
                reason = str(error).removeprefix(f"{path}: ")
                raise DataNotFound(
                    f"{path} is damaged ({reason}): replace it with the original table, or "
                    "delete it to have it downloaded again"
                ) from None
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
    raise not_found(f"{FOLDER}/{FILENAME}", folders, problem)


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
