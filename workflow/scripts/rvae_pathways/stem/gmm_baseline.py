"""The baseline the paper sets beside the rVAE: a Gaussian mixture on the principal components of
the raw patches (no rotation invariance), and the clusters of one frame's atoms."""

from __future__ import annotations

import numpy as np


def gmm_on_patches(patch_images, n_clusters: int, seed: int = 0, n_pca: int = 10, max_fit: int = 20000):
    """Cluster raw patches with a Gaussian mixture on their principal components (the baseline).

    Patches are flattened, reduced with :class:`sklearn.decomposition.PCA` to ``n_pca``
    components and clustered with :class:`sklearn.mixture.GaussianMixture` (full covariances).
    Clusters are renumbered by size, largest first (ties: the cluster of the earliest patch),
    so the numbering does not depend on the mixture's internal order. The same ``seed`` gives
    the same labels.

    Parameters
    ----------
    patch_images : array (n_patches, h, w)
    n_clusters : int
        Number of mixture components; at most ``n_patches`` are used.
    seed : int
        Seeds the PCA solver, the mixture's initialisation and the subsample.
    n_pca : int
        Principal components kept (at most ``n_patches - 1`` and ``h * w``).
    max_fit : int
        At most this many patches (a seeded random subset) fit the PCA and the mixture; all are
        then labelled.

    Returns
    -------
    labels : int64 array (n_patches,)
        Cluster of every patch, 0 .. k-1.
    means : float32 array (k, h, w)
        Mean patch of every cluster (the mixture's mean mapped back through the PCA for a
        cluster that ends up with no patch).
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    images = np.asarray(patch_images, dtype=float)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"patch_images must be a non-empty (n, h, w) stack, got shape {images.shape}")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    n, h, w = images.shape
    flat = images.reshape(n, h * w)
    k = min(int(n_clusters), n)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, max_fit, replace=False)) if n > max_fit else np.arange(n)
    n_components = max(1, min(int(n_pca), len(fit_rows) - 1, h * w))
    pca = PCA(n_components=n_components, random_state=seed).fit(flat[fit_rows])
    scores = pca.transform(flat)
    gmm = GaussianMixture(n_components=k, covariance_type="full", n_init=3, reg_covar=1e-5, random_state=seed)
    gmm.fit(scores[fit_rows])
    raw = gmm.predict(scores)

    counts = np.bincount(raw, minlength=k)
    first = np.array([np.argmax(raw == c) if counts[c] else n for c in range(k)])
    order = sorted(range(k), key=lambda c: (-counts[c], first[c]))
    new_label = np.empty(k, dtype=np.int64)
    new_label[order] = np.arange(k)
    labels = new_label[raw]

    means = np.empty((k, h, w), dtype=np.float32)
    for old in range(k):
        c = new_label[old]
        if counts[old]:
            means[c] = flat[labels == c].mean(axis=0).reshape(h, w)
        else:
            means[c] = pca.inverse_transform(gmm.means_[old][None])[0].reshape(h, w)
    return labels, means


def frame_cluster_positions(patches, labels, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Atom positions and cluster labels of one frame, for :func:`plot_cluster_baseline`.

    Parameters
    ----------
    patches : xarray.Dataset
        Per patch ``frame``, ``y``, ``x`` (px).
    labels : int array (n_patches,)
    frame : int

    Returns
    -------
    xy : float array (n, 2)
        Columns x then y (px), as ``frame_atoms_xy`` expects.
    frame_labels : int array (n,)
    """
    here = np.asarray(patches["frame"].values) == frame
    xy = np.column_stack([np.asarray(patches["x"].values, dtype=float)[here],
                          np.asarray(patches["y"].values, dtype=float)[here]])
    return xy, np.asarray(labels)[here]
