"""Data sets: canonical IDX parsing and the MNIST / Fashion-MNIST loaders."""

from hetsnn.data.idx import parse_idx
from hetsnn.data.images import DATASETS, ImageDataset, load_dataset

__all__ = ["DATASETS", "ImageDataset", "load_dataset", "parse_idx"]
