"""The IDX format of LeCun's MNIST files: a magic number, dimensions, then raw data.

Magic: two zero bytes, a type code (0x08 = uint8, 0x09 = int8, 0x0B = int16, 0x0C = int32,
0x0D = float32, 0x0E = float64) and the number of dimensions; then one big-endian uint32 per
dimension; then the data, big-endian, row-major.
"""

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode IDX bytes (already decompressed) into an array in native byte order.

    Raises:
        ValueError: bad magic number, unknown type code, or a size that does not match.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file: the magic number must start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in _TYPES:
        raise ValueError(f"IDX type code 0x{code:02X} is unknown")
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = np.dtype(_TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"IDX payload has {len(data) - header} bytes, its header {shape} needs {expected}"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
