"""Reproducibility of the structural units across training seeds.

An rVAE trained twice on the same patches with different seeds gives two latent spaces that
differ by more than a rotation or a relabelling: its optimisation is not convex. What a
scientist reads from a movie (which atoms share a structure, how often they change it) should
not depend on that draw. :func:`seed_agreement` cuts each seed's latents into classes and units
exactly as ``analyse_pathways`` does (:func:`~rvae_pathways.pathways.units.fit_units`, with the
same mixture seed for every model,
so the model's seed is the only thing that differs) and compares the assignments of the same
patches with the adjusted Rand index (ARI: 1 for the same partition under any relabelling, about
0 for chance agreement, see :func:`~rvae_pathways.pathways.units.unit_agreement`).
"""

from __future__ import annotations

import numpy as np

from ..core.config import defaults
from ..core.errors import InputError
from .units import fit_units, unit_agreement, unit_labels

__all__ = ["seed_agreement"]

PATHWAYS = defaults("pathways")


def seed_agreement(latent_sets, seeds, groups=None, n_classes=PATHWAYS["n_classes"],
                   bic_range=tuple(PATHWAYS["bic_range"]), min_overlap=PATHWAYS["unit_overlap"],
                   class_seed=0) -> dict:
    """How alike the classes and structural units of models trained with different seeds are.

    Parameters
    ----------
    latent_sets : list of (n, k) arrays
        The content latents (``z_mean``) of the same n patches, one array per model.
    seeds : list of int
        The training seed of each model (for the report only).
    groups : (n,) int array or None
        Coordination group of each patch (``coordination_groups``), as in ``analyse_pathways``.
    n_classes, bic_range, min_overlap :
        As ``pathways.n_classes``, ``pathways.bic_range`` and ``pathways.unit_overlap``.
    class_seed : int
        The Gaussian mixture's seed, the same for every model.

    Returns
    -------
    dict
        ``seeds``; ``n_classes`` and ``n_units`` per model; ``units`` and ``classes``: the
        agreement of the unit and of the class assignments (``pairs`` ``[i, j, ARI]`` by index
        into ``seeds``, ``mean``, ``min``, ``n_observations``).
    """
    if len(latent_sets) != len(seeds):
        raise InputError(f"{len(latent_sets)} latent sets but {len(seeds)} seeds")
    if len({len(z) for z in latent_sets}) > 1:
        raise InputError("the models' latents must be of the same patches (one row each): got "
                         f"{[len(z) for z in latent_sets]} rows")
    classes, units, n_units = [], [], []
    for z in latent_sets:
        labels, _, unit_of_class, _ = fit_units(np.asarray(z, float), groups, n_classes=n_classes,
                                                bic_range=bic_range, seed=class_seed, min_overlap=min_overlap)
        classes.append(labels)
        units.append(unit_labels(labels, unit_of_class))
        n_units.append(int(unit_of_class.max()) + 1)
    return {"seeds": [int(s) for s in seeds], "n_classes": [int(c.max()) + 1 for c in classes],
            "n_units": n_units, "units": unit_agreement(units), "classes": unit_agreement(classes)}
