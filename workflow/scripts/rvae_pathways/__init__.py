"""rvae_pathways: the library behind the Snakemake workflow, usable on its own from Python.

The functions a notebook needs are importable from the top level, e.g.::

    import rvae_pathways as rp

    movie = rp.simulate_stem_movie(n_frames=4, shape=(128, 128), seed=0)   # or rp.read_frames(path)
    image = rp.normalise_intensity(movie["image"][0].values)
    atoms = rp.find_atoms(image, spacing_px=14.2)            # 0.142 nm C-C bond / 0.01 nm per px
    patches, kept = rp.sample_patches(image, atoms["y"], atoms["x"], window_px=28.4, patch_px=15)
    x, scale = rp.training_set(patches)
    model, history = rp.fit(x, {"restarts": 1}, epochs=8, seed=0)
    latents = rp.encode(model, patches / scale)

(``examples/quickstart.py`` runs this chain end to end and scores it against the simulator's
truth.) :data:`__all__` lists them; each is imported on first use (PEP 562), so that
``import rvae_pathways`` stays light: no numpy, xarray or torch until a function is asked for
(every Snakemake parse imports :mod:`rvae_pathways.io.suffixes`, hence this package). torch is
not a declared dependency: install the CPU or CUDA build you want first (README, "Use from
Python"); only the ``rvae`` functions need it.

Sub-packages mirror the workflow's DAG; each imports only its own modules and those of the
packages listed before it (``tests/test_layout.py``):

- ``core``      errors, the frames Dataset, Zarr stores, the rule runner, geometry, noise, vocabulary
- ``io``        readers for .npy, TIFF, HyperSpy, Digital Micrograph, Velox EMD, TIA, MRC, Panta Rhei,
                Igor .ibw, Zarr; frame time and dose from the files' metadata
- ``sim``       the demo STEM simulator, the PFM switching simulator, the abTEM corpus generator
- ``stem``      alignment, atom finding, the lattice check, atoms of a movie, patches
- ``pfm``       piezoresponse from amplitude and phase, tiles
- ``rvae``      the model, training, encoding, the latent manifold
- ``pathways``  tracking atoms through the movie, classes, kinetics, events
- ``scores``    everything that compares with a simulator's truth
- ``exports``   files for other tools: HyperSpy latent maps and PFM domains, a trackpy/napari tracks csv
- ``figures``   the figure kit and the figures of each branch
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> the module (below this package) that defines it; imported on first access
_API: dict[str, str] = {
    # data in: frames Datasets (image (frame, y, x) + pixel_size_nm) from files or simulators
    "read_frames": "io.readers",
    "read_scan": "io.readers",
    "make_frames": "core.frames",
    "drop_bad_frames": "core.frames",
    "set_acquisition": "core.frames",
    "write_frames": "core.frames",
    "simulate_stem_movie": "sim.stem",
    "simulate_pfm_movie": "sim.pfm",
    "read_pfm_frames": "pfm.piezoresponse",
    "pfm_frames": "pfm.piezoresponse",
    # settings and units
    "defaults": "core.config",
    "InputError": "core.errors",
    "SampleGeometry": "core.geometry",
    "match_points": "core.geometry",
    # STEM: frames -> atoms -> patches (one image in memory, or a whole movie streamed to Zarr)
    "normalise_intensity": "stem.align",
    "movie_intensity_range": "stem.align",
    "prepare_movie": "stem.align",
    "find_atoms": "stem.atoms",
    "find_atoms_in_movie": "stem.movie",
    "check_frame": "stem.qc",
    "default_window_px": "stem.patches",
    "sample_patches": "stem.patches",
    "extract_movie_patches": "stem.patches",
    "gmm_on_patches": "stem.gmm_baseline",
    # the rVAE (needs torch)
    "RVAE": "rvae.model",
    "training_set": "rvae.train",
    "estimate_noise_std": "rvae.train",
    "fit": "rvae.train",
    "save_model": "rvae.train",
    "load_model": "rvae.train",
    "encode": "rvae.encode",
    "encode_patch_store": "rvae.encode",
    "decode_manifold": "rvae.manifold",
    # pathways: tracks, classes, kinetics, events
    "link_frames": "pathways.tracking",
    "track_atoms": "pathways.tracking",
    "latent_trajectories": "pathways.tracking",
    "coordination_groups": "pathways.kinetics",
    "fit_classes": "pathways.kinetics",
    "class_fractions": "pathways.kinetics",
    "transitions": "pathways.kinetics",
    "physical_rates": "pathways.kinetics",
    "find_events": "pathways.kinetics",
    "merge_classes": "pathways.units",
    "markov_model": "pathways.rates",
    "dwell_times": "pathways.rates",
    "seed_agreement": "pathways.seeds",
    # files for other tools
    "tracks_table": "exports.tracks",
    "write_latent_maps": "exports.latent_maps",
    "domains_dataset": "exports.domains",
    # scores against a simulator's truth
    "detection_counts": "scores.atoms",
    "detection_scores": "scores.atoms",
    "label_atoms_with_truth": "scores.atoms",
    "score_movie": "scores.atoms",
    "sublattice_accuracy": "scores.latents",
    "separation_scores": "scores.latents",
    "score_against_truth": "scores.latents",
    "majority_structure": "scores.pathways",
    "score_events": "scores.pathways",
    "linking_accuracy": "scores.pathways",
}

_SUBPACKAGES = ("core", "io", "sim", "stem", "pfm", "rvae", "pathways", "scores", "exports", "figures")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """Import a public name's module on first access (PEP 562); sub-packages too."""
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{_API[name]}")
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise ModuleNotFoundError(
            f"rvae_pathways.{name} needs PyTorch, which is not installed. Install the build you want "
            "first: CPU `pip install torch --index-url https://download.pytorch.org/whl/cpu`, CUDA: "
            "the selector on pytorch.org (README, 'Use from Python')",
            name="torch",
        ) from error
    value = getattr(module, name)
    globals()[name] = value  # later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
