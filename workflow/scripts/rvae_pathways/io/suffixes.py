"""The file types the readers take, by suffix: constants only, so that the workflow can check a
samples table while Snakemake parses it without importing the readers (numpy, xarray, rosettasciio)."""

SUPPORTED_SUFFIXES = (
    ".npy",
    ".tif",
    ".tiff",
    ".hspy",
    ".hdf5",
    ".h5",
    ".dm3",
    ".dm4",
    ".emd",
    ".ser",
    ".emi",
    ".mrc",
    ".prz",
    ".ibw",
    ".zarr",
)
"""Suffixes :func:`rvae_pathways.io.readers.read_frames` or ``read_scan`` read (any case)."""

SCAN_SUFFIXES = (".ibw",)
"""Suffixes of multi-channel scans, read with :func:`rvae_pathways.io.readers.read_scan` (not ``read_frames``)."""
