import gzip
import hashlib

import numpy as np
import pytest
from conftest import SHARED_DATA as SHARED
from conftest import needs_shared_data as needs_shared

from hetsnn.data import images
from hetsnn.data.idx import parse_idx
from hetsnn.data.images import DataNotFound, ImageDataset, load_dataset


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_parse_idx_round_trips_big_endian_data():
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    parsed = parse_idx(idx_bytes(values, 0x0C))
    np.testing.assert_array_equal(parsed, values)
    assert parsed.dtype == np.int32 and parsed.dtype.isnative


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "payload"),
    ],
)
def test_parse_idx_rejects_malformed_files(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data)


@needs_shared
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("split, size", [("train", 60_000), ("test", 10_000)])
def test_real_files_from_the_data_dir(name, split, size, monkeypatch, tmp_path):
    monkeypatch.setenv(images.DATA_DIR_ENV, str(SHARED))
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path))
    x, y = load_dataset(name, split, download=False)
    assert x.shape == (size, 28, 28) and x.dtype == np.uint8
    assert y.shape == (size,) and set(np.unique(y)) == set(range(10))
    counts = np.bincount(y)
    if name == "fashion-mnist":  # exactly balanced
        assert np.all(counts == size // 10)
    elif split == "test":  # MNIST test set, as published
        assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0 < x.mean() < 255 and x.max() == 255


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """A one-file data set served from a file:// mirror, with its true checksum."""
    content = idx_bytes(np.array([3, 1, 4], np.uint8), 0x08)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny.gz").write_bytes(gzip.compress(content))
    dataset = ImageDataset(
        "tiny", mirror.as_uri() + "/", {"tiny": hashlib.sha256(content).hexdigest()}
    )
    monkeypatch.setitem(images.DATASETS, "tiny", dataset)
    monkeypatch.setenv(images.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(images.DATA_DIR_ENV, raising=False)
    return mirror


def test_download_fills_the_cache_then_works_offline(tiny_dataset):
    np.testing.assert_array_equal(images.read_file("tiny", "tiny"), [3, 1, 4])
    (tiny_dataset / "tiny.gz").unlink()  # the mirror is gone; the cache answers
    np.testing.assert_array_equal(images.read_file("tiny", "tiny", download=False), [3, 1, 4])


def test_checksum_mismatch_is_an_error(tiny_dataset):
    (tiny_dataset / "tiny.gz").write_bytes(gzip.compress(idx_bytes(np.array([9], np.uint8), 8)))
    with pytest.raises(DataNotFound, match="SHA-256") as error:
        images.read_file("tiny", "tiny")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[:-5]),  # a truncated .gz
        lambda p: p.write_bytes(b"garbage"),
        lambda p: (p.unlink(), p.mkdir()),  # a folder in place of the file
        lambda p: p.write_bytes(gzip.compress(idx_bytes(np.array([9], np.uint8), 8))),
    ],
    ids=["truncated", "garbage", "folder", "other content"],
)
def test_a_damaged_local_file_is_a_one_line_error(tiny_dataset, tmp_path, monkeypatch, damage):
    data_dir = tmp_path / "data"
    (data_dir / "tiny").mkdir(parents=True)
    path = data_dir / "tiny" / "tiny.gz"
    path.write_bytes((tiny_dataset / "tiny.gz").read_bytes())
    np.testing.assert_array_equal(images.read_file("tiny", "tiny", data_dir), [3, 1, 4])
    damage(path)
    with pytest.raises(DataNotFound, match="is damaged") as error:
        images.read_file("tiny", "tiny", data_dir)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_damaged_allen_table_is_a_one_line_error(tmp_path):
    from hetsnn.data import allen

    folder = tmp_path / allen.FOLDER
    folder.mkdir()
    (folder / allen.FILENAME).write_text("not,an,allen,table\n1,2,3,4\n")
    with pytest.raises(DataNotFound, match="is damaged") as error:
        allen.read_table(tmp_path, download=False)
    assert "\n" not in str(error.value)


def test_missing_data_names_both_ways_to_provide_it(tiny_dataset):
    (tiny_dataset / "tiny.gz").unlink()
    with pytest.raises(DataNotFound, match="HETSNN_DATA_DIR.*download") as error:
        images.read_file("tiny", "tiny")
    assert "download failed" in str(error.value)
    with pytest.raises(DataNotFound, match="downloads are off"):
        images.read_file("tiny", "tiny", download=False)
