"""The patches of many movies as one training set, read movie by movie from their Zarr stores.

A group of movies (the samples table's ``group`` column) shares one model trained on all their
patches. :class:`PatchStores` is that training set: it never holds the group's patches as one
array. It reads each movie's ``patches.zarr`` a Zarr chunk at a time, and an epoch is a shuffle
of buffers of at most ``buffer_patches`` patches (before their turns), each filled with randomly
chosen chunks of randomly chosen movies; memory holds one buffer, whatever the number of movies.
A group whose patches fit in one buffer (the demo, and any group under 65,536 patches by
default) is shuffled as a whole every epoch, exactly as one array would be: a group of one movie
trains bitwise the same model as :func:`~rvae_pathways.rvae.train.fit` on that movie's array.

Each movie's weight in training (``weight``):

- ``"patch"`` (the default): every patch once per epoch (four times with its turns), so every
  patch weighs the same and a movie weighs by its number of patches (its atoms times frames);
- ``"movie"``: every movie the same share of each epoch, ``round(N / M)`` of the group's N
  patches for each of its M movies, drawn afresh every epoch (without replacement from a movie
  with more patches, every patch and the rest drawn again from one with fewer).

Intensities are divided by the largest patch pixel of the whole group (:attr:`PatchStores.scale`),
one scale for every movie, as the encoder must see them; each movie's frames were normalised on
their own before (``prepare_frames``). The randomness (which rows, the order of the chunks and
of the patches) comes from the training's one ``torch.Generator``, so a run repeats and a killed
run resumes exactly (see :func:`~rvae_pathways.rvae.train.fit`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..core.config import defaults
from ..core.errors import InputError

WEIGHTS = ("patch", "movie")
# Patches (before their turns) one buffer holds: 65,536 patches of 15 x 15 float32 are 59 MB, 236 MB
# with their turns; the demo group's 2,000 patches fit in one.
BUFFER_PATCHES = 1 << 16


class PatchStores:
    """Several ``patches.zarr`` stores read as one training set (see the module docstring).

    Parameters
    ----------
    paths : sequence of path-like
        The movies' patch stores (variable ``image``, dims patch, py, px), in the group's order.
    names : sequence of str, optional
        The movies' names (default: each store's folder name), for messages and the weights table.
    augment_rot90 : bool
        Each patch also at 90, 180 and 270 degrees, as :func:`~rvae_pathways.rvae.train.training_set`.
    weight : {"patch", "movie"}
        Each movie's weight in an epoch (see the module docstring).
    buffer_patches : int
        Patches (before their turns) read into memory at once.

    Opening reads every store once, a chunk at a time: the number of patches, the largest pixel
    (:attr:`scale`), finiteness, and a digest of the bytes (:meth:`digest`).
    """

    def __init__(self, paths, names=None, *, augment_rot90: bool = defaults("rvae")["augment_rot90"],
                 weight: str = defaults("groups")["weight"], buffer_patches: int = BUFFER_PATCHES):
        import zarr

        self.paths = [str(p) for p in paths]
        self.names = [str(n) for n in names] if names is not None else [Path(p).parent.name for p in self.paths]
        if not self.paths or len(self.names) != len(self.paths):
            raise InputError(f"a group needs one name per patch store, got {len(self.names)} names for "
                             f"{len(self.paths)} stores")
        if weight not in WEIGHTS:
            raise InputError(f"weight must be one of {WEIGHTS}, got {weight!r}")
        self.weight, self.turns = weight, 4 if augment_rot90 else 1
        self.buffer_patches = int(buffer_patches)
        if self.buffer_patches < 1:
            raise InputError(f"buffer_patches must be at least 1, got {buffer_patches}")
        self.arrays = [zarr.open_group(p, mode="r")["image"] for p in self.paths]
        self.counts = np.array([a.shape[0] for a in self.arrays], dtype=np.int64)
        self.patch_size = self._check_shapes()
        self.scale, self._digest = self._summarise()

    def _check_shapes(self) -> int:
        sizes = set()
        for name, array, count in zip(self.names, self.arrays, self.counts):
            if array.ndim != 3 or array.shape[1] != array.shape[2] or array.shape[1] < 2:
                raise InputError(f"movie {name}: patches must be an (N, n, n) stack of square patches, "
                                 f"got shape {array.shape}")
            if count == 0:
                raise InputError(f"movie {name} has no patches; leave it out of the group or fix its atoms")
            sizes.add(int(array.shape[1]))
        if len(sizes) > 1:
            shapes = ", ".join(f"{n}: {a.shape[1]} px" for n, a in zip(self.names, self.arrays))
            raise InputError(f"the movies of a group must have patches of one size, got {shapes}")
        return sizes.pop()

    def _chunks(self, movie: int):
        """(start, stop) of each Zarr chunk of a movie's patches."""
        step = int(self.arrays[movie].chunks[0])
        n = int(self.counts[movie])
        return [(start, min(start + step, n)) for start in range(0, n, step)]

    def _raw(self, movie: int, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.arrays[movie][start:stop], dtype=np.float32)

    def _summarise(self) -> tuple[float, bytes]:
        """One pass over every store: the largest pixel, finiteness, the digest of the bytes."""
        digest = hashlib.sha1()
        largest = -np.inf
        for movie, name in enumerate(self.names):
            for start, stop in self._chunks(movie):
                block = self._raw(movie, start, stop)
                if not np.isfinite(block).all():
                    raise InputError(f"movie {name}: {int((~np.isfinite(block)).sum())} patch pixels in patches "
                                     f"{start}..{stop - 1} are NaN or infinite")
                largest = max(largest, float(block.max()))
                digest.update(block.tobytes())
        if not largest > 0:
            raise InputError("every patch pixel of the group is zero or negative; the patches hold no image")
        settings = [self.names, self.weight, self.turns, self.buffer_patches]
        digest.update(json.dumps(settings).encode())
        return largest, digest.digest()

    def digest(self) -> bytes:
        """SHA-1 of every patch's bytes, in order, and of the names, weight, turns and buffer size:
        what names the training's checkpoint (:func:`~rvae_pathways.rvae.train.checkpoint_path`)."""
        return self._digest

    def _scaled(self, movie: int, start: int, stop: int, rows=None) -> np.ndarray:
        block = self._raw(movie, start, stop)
        return (block if rows is None else block[rows - start]) / self.scale

    def noise_std(self) -> float:
        """Pixel noise sigma of the scaled patches before their turns, as
        :func:`~rvae_pathways.rvae.train.estimate_noise_std` gives it for one array of them all
        (two passes: the mean neighbour difference, then the mean absolute deviation from it)."""
        total, count = 0.0, 0
        for movie in range(len(self.paths)):
            for start, stop in self._chunks(movie):
                diff = np.diff(self._scaled(movie, start, stop).astype(np.float64), axis=2)
                total, count = total + float(diff.sum()), count + diff.size
        mean, deviation = total / count, 0.0
        for movie in range(len(self.paths)):
            for start, stop in self._chunks(movie):
                diff = np.diff(self._scaled(movie, start, stop).astype(np.float64), axis=2)
                deviation += float(np.abs(diff - mean).sum())
        return float(deviation / count * np.sqrt(np.pi / 2) / np.sqrt(2))

    def per_epoch(self) -> np.ndarray:
        """Patches each movie gives every epoch, before their turns."""
        if self.weight == "patch":
            return self.counts.copy()
        share = int(round(self.counts.sum() / len(self.counts)))
        return np.full(len(self.counts), max(share, 1), dtype=np.int64)

    def __len__(self) -> int:
        """Patches per epoch, turns included."""
        return int(self.per_epoch().sum()) * self.turns

    def weights_table(self) -> list[dict]:
        """Per movie: patches, patches per epoch (turns included), share of each epoch, and the weight
        of one of its patches relative to a patch of the group under equal per-patch weighting."""
        drawn = self.per_epoch()
        mean = self.counts.sum() / drawn.sum()
        return [{"sample": name, "patches": int(n), "per_epoch": int(d) * self.turns,
                 "share": float(d / drawn.sum()), "patch_weight": float(d / n * mean)}
                for name, n, d in zip(self.names, self.counts, drawn)]

    def _epoch_rows(self, generator: torch.Generator) -> list[np.ndarray]:
        """The rows of every movie one epoch reads (sorted; repeats possible with weight "movie")."""
        rows = []
        for n, want in zip(self.counts.tolist(), self.per_epoch().tolist()):
            if want == n:
                rows.append(np.arange(n))
                continue
            whole, rest = divmod(want, n)
            drawn = torch.randperm(n, generator=generator)[:rest].numpy()
            rows.append(np.sort(np.concatenate([np.tile(np.arange(n), whole), drawn])))
        return rows

    def _blocks(self, rows: list[np.ndarray]) -> list[tuple[int, int, int, np.ndarray | None]]:
        """(movie, start, stop, rows or None for the whole chunk) of every chunk with rows to read."""
        blocks = []
        for movie, chosen in enumerate(rows):
            whole = len(chosen) == self.counts[movie] and (len(chosen) == 0 or chosen[-1] == len(chosen) - 1)
            for start, stop in self._chunks(movie):
                if whole:
                    blocks.append((movie, start, stop, None))
                    continue
                inside = chosen[(chosen >= start) & (chosen < stop)]
                if len(inside):
                    blocks.append((movie, start, stop, inside))
        return blocks

    def _buffers(self, blocks, generator: torch.Generator) -> list[list]:
        """Blocks grouped into buffers of at most ``buffer_patches`` rows (a chunk larger than that is a
        buffer of its own); the blocks in random order when there is more than one buffer."""
        sizes = [stop - start if rows is None else len(rows) for _, start, stop, rows in blocks]
        if sum(sizes) > self.buffer_patches:
            order = torch.randperm(len(blocks), generator=generator).tolist()
            blocks, sizes = [blocks[i] for i in order], [sizes[i] for i in order]
        buffers, current, held = [], [], 0
        for block, size in zip(blocks, sizes):
            if current and held + size > self.buffer_patches:
                buffers.append(current)
                current, held = [], 0
            current.append(block)
            held += size
        return buffers + ([current] if current else [])

    def _read(self, blocks) -> np.ndarray:
        """The scaled patches of some blocks, with their turns after them (all at 0 degrees first, as
        :func:`~rvae_pathways.rvae.train.training_set` orders them)."""
        x = np.concatenate([self._scaled(*block) for block in blocks])
        if self.turns > 1:
            x = np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(self.turns)])
        return np.ascontiguousarray(x, dtype=np.float32)

    def batches(self, batch_size: int, generator: torch.Generator, device):
        """The batches of one epoch, on ``device``: buffer after buffer, each shuffled."""
        for buffer in self._buffers(self._blocks(self._epoch_rows(generator)), generator):
            x = torch.as_tensor(self._read(buffer), device=device)
            order = torch.randperm(len(x), generator=generator).to(device)
            for start in range(0, len(x), batch_size):
                yield x[order[start : start + batch_size]]

    def parts(self, size: int, device):
        """Every patch of the group, turns included, in a fixed order (turn by turn, movie by movie), in
        tensors of ``size`` patches (the last fewer), on ``device``; the split of one array of them all."""
        pending, held = [], 0
        for turn in range(self.turns):
            for movie in range(len(self.paths)):
                for start, stop in self._chunks(movie):
                    pending.append(np.rot90(self._scaled(movie, start, stop), turn, axes=(1, 2)))
                    held += stop - start
                    while held >= size:
                        joined = np.concatenate(pending)
                        yield torch.as_tensor(np.ascontiguousarray(joined[:size]), device=device)
                        pending, held = [joined[size:]], held - size
        if held:
            yield torch.as_tensor(np.ascontiguousarray(np.concatenate(pending)), device=device)
