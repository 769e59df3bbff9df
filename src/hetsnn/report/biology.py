"""The biological reference of the reports: membrane time constants of the Allen Cell Types
populations (:data:`hetsnn.data.allen.POPULATIONS`), kept with the report.

A report made where the Allen table is found stores the measured values in
``report/allen-tau.npz``; a later report of the same run directory made without the table
reads them from there, so it keeps its comparisons to biology instead of dropping them
(and says where the numbers came from).
"""

from pathlib import Path

import numpy as np

from hetsnn import storage
from hetsnn.data import allen
from hetsnn.data.locations import DataNotFound

CACHE = "allen-tau.npz"


def time_constants(out: Path, *, download: bool = True) -> tuple[dict[str, np.ndarray], str]:
    """Per population label: measured tau (ms), and where they came from ("" for the table
    itself, else a note naming the stored copy).

    Raises:
        DataNotFound: neither the table nor a stored copy is here.
    """
    path = Path(out) / CACHE
    try:
        rows = allen.read_table(download=download)
    except DataNotFound:
        if not path.is_file():
            raise
        stored = storage.load_arrays(path)
        labels = [str(label) for label in stored.pop("labels")]
        taus = dict(zip(labels, (stored[f"tau_{i}"] for i in range(len(labels))), strict=True))
        return taus, f"the Allen Cell Types values stored by an earlier report in {path}"
    taus = {p.label: allen.membrane_time_constants(rows, p) for p in allen.POPULATIONS}
    arrays = {f"tau_{i}": tau for i, tau in enumerate(taus.values())}
    storage.save_arrays(path, labels=np.asarray(list(taus)), **arrays)
    return taus, ""
