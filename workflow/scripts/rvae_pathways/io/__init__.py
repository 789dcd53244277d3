"""Readers of the microscope formats: a file in, a frames Dataset (or a scan's channels) out.

- :mod:`.readers`: the entry points :func:`~.readers.read_frames` and
  :func:`~.readers.read_scan`, which pick a reader by suffix (the table of formats is there);
- :mod:`.suffixes`: the suffixes taken, as constants the workflow checks without importing
  the readers;
- :mod:`.raw`: what every reader returns (:class:`~.raw.RawImage`: pixels, calibration,
  :class:`~.raw.Exposure`), lengths and times in the units files use, the electron dose
  (:func:`~.raw.dose_e_per_A2`), and how the pixel size, frame time and dose per frame are
  settled between the file and the samples table;
- one module per format family: :mod:`.npy`, :mod:`.tiff` (rosettasciio's TIFF reader with
  the vendors' calibrations, tifffile's ImageJ and OME metadata), :mod:`.rsciio` (HyperSpy,
  Digital Micrograph, EMD, FEI TIA, MRC, Panta Rhei), :mod:`.igor` (Asylum ``.ibw`` scans),
  :mod:`.zarr_frames` (stores this project wrote).
"""
