"""NumPy ``.npy`` files, memory-mapped (plain numeric arrays only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ..core.errors import InputError
from .raw import RawImage

# First bytes of every .npy file.
_NPY_MAGIC = b"\x93NUMPY"


def read_npy(path: Path) -> RawImage:
    """Open a ``.npy`` array memory-mapped; pickled object arrays are refused, never loaded.

    Only the header is read here: the pixels are read later, a frame at a time (see
    :class:`MappedFrames`).

    Parameters
    ----------
    path : Path

    Returns
    -------
    RawImage
        ``data`` a read-only :class:`numpy.memmap`. No calibration: a ``.npy`` file carries
        no pixel size.
    """
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            # np.load would take it for a pickle file and give a misleading message
            raise ValueError("the file does not start with the .npy signature")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        # numpy refuses to map an object array ("Python objects in dtype")
        if "allow_pickle" not in str(exc) and "Python objects" not in str(exc):
            raise
        raise InputError(
            f"{path} holds pickled Python objects, which are never loaded for safety; "
            "save a plain numeric array instead, with np.save(path, array)"
        ) from exc
    return RawImage(data)


class MappedFrames(BackendArray):
    """A memory-mapped image or stack as a (frame, y, x) float32 array read on demand.

    Each read maps the file again, copies the slice asked for (as float32) and unmaps the
    file, so the pages read do not stay in the process's memory: reading a movie frame by
    frame holds about one frame, whatever the movie's length. (A mapping kept open would keep
    every page read resident, the whole movie by the end.) Wrapped in xarray's
    ``LazilyIndexedArray``, it is the ``image`` of a Dataset that reads only what is used.

    Parameters
    ----------
    mapped : numpy.memmap
        A read-only mapping of the file, shape (y, x) (a one-frame movie) or (frame, y, x);
        only its file name, offset, dtype, shape and order are kept.
    """

    def __init__(self, mapped: np.memmap):
        if mapped.filename is None or mapped.ndim not in (2, 3):
            raise ValueError("expected a file-backed 2-D or 3-D numpy.memmap")
        self.filename = mapped.filename
        self.offset = int(mapped.offset)
        self.file_dtype = mapped.dtype
        self.file_shape = mapped.shape
        self.order = "F" if mapped.flags.f_contiguous and not mapped.flags.c_contiguous else "C"
        self.shape = mapped.shape if mapped.ndim == 3 else (1, *mapped.shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        """The pixels at ``key`` (ints and slices over frame, y, x) as a float32 copy."""
        mapped = np.memmap(self.filename, dtype=self.file_dtype, mode="r", offset=self.offset,
                           shape=self.file_shape, order=self.order)
        stack = mapped if mapped.ndim == 3 else mapped[np.newaxis]
        return np.array(stack[key], dtype=np.float32)  # a copy: the mapping closes with ``mapped``
