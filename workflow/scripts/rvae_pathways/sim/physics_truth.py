"""The physics corpus's random streams and ground truth, shared by every case.

Randomness: ``np.random.SeedSequence(seed)`` gives the child streams ``spawn_key=(0,)`` (the
structure: rotation, dopants, defects, hole, hops, drift) and ``spawn_key=(1, round(1000 *
dose))`` (the shot noise at that dose). Two doses of one seed therefore show the same atoms,
and each store is reproducible on its own.

Ground truth (every store)
--------------------------
Along dim ``true_atom``, sorted by frame: ``true_frame`` int32, ``true_id`` int32 (persistent over
frames), ``true_y``/``true_x`` float32 in pixels (pixel centres at integer indices, the same
convention as ``image[frame, y, x]``, drift included), ``true_species`` int8 (Z of the heaviest
atom of the column), ``true_class`` int8 (names in ``attrs["true_class_names"]``,
comma-separated, the code is the index), ``true_sublattice`` int8 (graphene sublattice 0/1, -1
otherwise). A row is written for each object whose centre lies in ``[-0.5, n - 0.5)`` px on
both axes. ``attrs["spacing_nm"]`` is the expected nearest-neighbour distance of the objects
that carry truth rows; ``attrs["contrast"]`` is ``"bright"`` (objects brighter than the
background) or ``"dark"`` (ABF).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..core.frames import make_frames

__all__ = ["frames_with_truth", "inside_field", "pick_far", "projected_columns", "seeded_streams"]


def seeded_streams(seed: int):
    """The structure generator and a function dose -> shot-noise generator (see the module doc)."""
    structure = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))

    def noise(dose):
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, int(round(1000 * dose)))))

    return structure, noise


def pick_far(rng, candidates_xy, avoid_xy, min_dist, tries=2000):
    """Index of a random candidate at least ``min_dist`` from every point of ``avoid_xy``."""
    for _ in range(tries):
        k = int(rng.integers(len(candidates_xy)))
        if not avoid_xy or np.min(np.linalg.norm(np.asarray(avoid_xy) - candidates_xy[k], axis=1)) >= min_dist:
            return k
    raise RuntimeError("could not place a defect; enlarge the field")


def projected_columns(atoms, tol_A=0.3):
    """Group atoms whose projected (x, y) lie within ``tol_A``; returns (xy mean, heaviest Z, Zs)."""
    xy = atoms.positions[:, :2]
    tree = cKDTree(xy)
    pairs = tree.query_pairs(tol_A, output_type="ndarray")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(xy)
    graph = (coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs)
             else coo_matrix((n, n)))
    _, label = connected_components(graph, directed=False)
    out = []
    for lab in np.unique(label):
        m = label == lab
        out.append((xy[m].mean(axis=0), int(atoms.numbers[m].max()), sorted(set(atoms.numbers[m].tolist()))))
    return out


def _truth_rows(rows):
    """Concatenate per-frame truth tuples (frame, id, y, x, species, class, sublattice)."""
    if not rows:
        raise ValueError("no truth rows")
    cols = [np.concatenate([np.asarray(r[k]) for r in rows]) for k in range(7)]
    order = np.argsort(cols[0], kind="stable")
    dtypes = (np.int32, np.int32, np.float32, np.float32, np.int8, np.int8, np.int8)
    return [c[order].astype(d) for c, d in zip(cols, dtypes)]


def frames_with_truth(images, pixel_A, rows, class_names, attrs, source):
    """A frames Dataset with the truth variables and attrs."""
    ds = make_frames(images, pixel_A / 10, source=source, modality="stem", intensity_units="counts")
    names = ("true_frame", "true_id", "true_y", "true_x", "true_species", "true_class", "true_sublattice")
    for name, col in zip(names, _truth_rows(rows)):
        ds[name] = ("true_atom", col)
    ds["true_y"].attrs["units"] = "px"
    ds["true_x"].attrs["units"] = "px"
    ds.attrs.update(attrs)
    ds.attrs["true_class_names"] = ",".join(class_names)
    ds.attrs["true_position_units"] = "px"
    ds.attrs["true_position_convention"] = "pixel centres at integer indices, as image[frame, y, x]"
    return ds


def inside_field(y, x, shape):
    return (y >= -0.5) & (y < shape[0] - 0.5) & (x >= -0.5) & (x < shape[1] - 0.5)
