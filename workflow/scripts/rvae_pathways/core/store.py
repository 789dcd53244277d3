"""Streaming writes of row tables and patch stacks to Zarr, a bounded number of rows at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


class ZarrAppender:
    """Append rows along one dimension of a Zarr store, flushing every ``chunk_rows`` rows.

    Memory holds at most about ``chunk_rows`` rows, whatever the length of the movie, and every
    Zarr chunk along ``dim`` holds exactly ``chunk_rows`` rows (the last one fewer).

    Parameters
    ----------
    path : path-like
        The Zarr store to create (an existing one is replaced).
    dim : str
        The dimension rows are appended along, e.g. ``"atom"`` or ``"patch"``.
    chunk_rows : int
        Rows per Zarr chunk and per write.
    attrs : dict
        Dataset attributes (JSON-serialisable values).
    extra_dims : dict
        Names of the trailing dimensions of each variable, e.g. ``{"patch": ("py", "px")}``.
    coords : dict
        Coordinates of trailing dimensions, e.g. ``{"latent": [1, 2]}``, written with the first
        chunk.
    """

    def __init__(self, path, dim: str, chunk_rows: int, attrs: dict | None = None, extra_dims: dict | None = None,
                 coords: dict | None = None):
        self.path = Path(path)
        self.dim = dim
        self.chunk_rows = int(chunk_rows)
        self.attrs = dict(attrs or {})
        self.extra_dims = dict(extra_dims or {})
        self.coords = dict(coords or {})
        self._buffer: dict[str, list[np.ndarray]] = {}
        self._buffered = 0
        self.rows_written = 0

    def append(self, **columns: np.ndarray) -> None:
        """Add rows: every column is an array whose first axis is the row axis."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
        if self._buffer and set(columns) != set(self._buffer):
            raise ValueError(f"columns {sorted(columns)} differ from the first append {sorted(self._buffer)}")
        for name, values in columns.items():
            self._buffer.setdefault(name, []).append(np.asarray(values))
        self._buffered += lengths.pop()
        while self._buffered >= self.chunk_rows:
            self._flush(self.chunk_rows)

    def close(self) -> int:
        """Write what is left; return the total number of rows written."""
        if self._buffered:
            self._flush(self._buffered)
        return self.rows_written

    def _flush(self, n: int) -> None:
        block, rest = {}, {}
        for name, parts in self._buffer.items():
            values = np.concatenate(parts)
            block[name], rest[name] = values[:n], values[n:]
        self._buffer = {name: [values] for name, values in rest.items()}
        self._buffered -= n
        data_vars = {name: ((self.dim, *self.extra_dims.get(name, ())), values) for name, values in block.items()}
        first = self.rows_written == 0
        ds = xr.Dataset(data_vars, coords=self.coords if first else None, attrs=self.attrs)
        if first:
            encoding = {
                name: {"chunks": (self.chunk_rows, *values.shape[1:])} for name, values in block.items()
            }
            ds.to_zarr(self.path, mode="w", encoding=encoding, consolidated=True)
        else:
            ds.to_zarr(self.path, append_dim=self.dim, consolidated=True)
        self.rows_written += n


def add_columns(path, dim: str, columns: dict) -> None:
    """Add one-dimensional variables along ``dim`` to the Zarr table at ``path`` (e.g. the scores'
    truth labels beside the atoms found), chunked like the table, its attributes kept."""
    table = xr.open_zarr(path)
    n = table.sizes[dim]
    chunks = next((v.encoding.get("chunks") for v in table.variables.values() if v.dims == (dim,)), None) or (max(n, 1),)
    added = xr.Dataset({name: (dim, np.asarray(values)) for name, values in columns.items()}, attrs=table.attrs)
    added.chunk({dim: chunks[0]}).to_zarr(path, mode="a", consolidated=True)
