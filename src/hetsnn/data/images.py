"""MNIST and Fashion-MNIST from their canonical IDX files.

Where the files come from, in this order: the data folder and the cache of
:mod:`hetsnn.data.locations` (holding ``<dataset>/<file>.gz`` or the decompressed files),
then a download from the data set's public mirror into the cache, checked against the
SHA-256 of the decompressed content (gzip re-compression changes the ``.gz`` bytes, not the
content).
If none works, the error names both the data-directory and the download option.
"""

import gzip
import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hetsnn.data.idx import parse_idx
from hetsnn.data.locations import CACHE_ENV, DATA_DIR_ENV, DataNotFound, not_found, search_folders
from hetsnn.storage import atomic_write_bytes

__all__ = ["CACHE_ENV", "DATA_DIR_ENV", "DATASETS", "DataNotFound", "load_dataset", "read_file"]
SPLIT_SIZES = {"train": 60_000, "test": 10_000}  # both data sets
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class ImageDataset:
    """Where a data set lives and the SHA-256 of each decompressed file."""

    name: str
    mirror: str
    sha256: dict[str, str]


DATASETS = {
    "mnist": ImageDataset(
        "mnist",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ),
    "fashion-mnist": ImageDataset(
        "fashion-mnist",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
}


def _decompress(raw: bytes) -> bytes:
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _verified(content: bytes, dataset: ImageDataset, stem: str, origin: str) -> bytes:
    digest = hashlib.sha256(content).hexdigest()
    if digest != dataset.sha256[stem]:
        raise ValueError(f"{origin}: SHA-256 {digest[:12]}... does not match {dataset.name}/{stem}")
    return content


def _local(folder: Path, dataset: ImageDataset, stem: str) -> bytes | None:
    for path in (folder / dataset.name / f"{stem}.gz", folder / dataset.name / stem):
        if path.exists():
            try:
                return _verified(_decompress(path.read_bytes()), dataset, stem, str(path))
            except (ValueError, EOFError, OSError) as error:  # truncated, garbage, a folder
                raise DataNotFound(
                    f"{path} is damaged ({error}): replace it with the original file, or "
                    "delete it to have it downloaded again"
                ) from None
    return None


def _download(dataset: ImageDataset, stem: str, cache: Path, mirror: str) -> bytes:
    url = f"{mirror}{stem}.gz"
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed mirror)
        raw = response.read()
    content = _verified(_decompress(raw), dataset, stem, url)
    atomic_write_bytes(cache / dataset.name / f"{stem}.gz", raw)
    return content


def read_file(
    name: str,
    stem: str,
    data_dir: Path | None = None,
    *,
    download: bool = True,
    mirror: str | None = None,
) -> np.ndarray:
    """One IDX file of data set ``name`` as an array (see the module docstring for sources)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: choose one of {sorted(DATASETS)}")
    dataset = DATASETS[name]
    folders, cache = search_folders(data_dir)
    for folder in folders:
        content = _local(folder, dataset, stem)
        if content is not None:
            return parse_idx(content)
    problem = "downloads are off"
    if download:
        try:
            return parse_idx(_download(dataset, stem, cache, mirror or dataset.mirror))
        except (OSError, ValueError, EOFError) as error:  # no network, or a bad download
            problem = f"the download failed ({error})"
    raise not_found(f"{name}/{stem}", folders, problem, file=f"{name}/{stem}.gz")


def load_dataset(
    name: str, split: str, data_dir: Path | None = None, *, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) uint8)`` of a split ("train" or "test")."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}: choose 'train' or 'test'")
    images_stem, labels_stem = SPLIT_FILES[split]
    images = read_file(name, images_stem, data_dir, download=download)
    labels = read_file(name, labels_stem, data_dir, download=download)
    if len(images) != len(labels):
        raise ValueError(f"{name}/{split}: {len(images)} images but {len(labels)} labels")
    return images, labels
