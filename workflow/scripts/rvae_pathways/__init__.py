"""rvae_pathways: the library behind the Snakemake workflow.

Modules (import what you need; nothing heavy is imported here):

- ``errors``         InputError, the one exception for bad user input
- ``frames``         the frames Dataset contract (``make_frames``, ``check_frames``)
- ``io``             readers for .npy, .tif, HyperSpy, Digital Micrograph, Velox, Zarr
- ``simulate_stem``  a Si-doped graphene movie under the beam, with ground truth
- ``align``          intensity normalisation and drift measurement
- ``atoms``          atom finding with sub-pixel refinement (contrast, background, noise-based detection)
- ``atom_qc``        the lattice check of the atoms found in a frame
- ``fidelity``       atom finding scored on the abTEM physics corpus (tests/data/corpus)
- ``simulate_physics`` the corpus generator (needs the optional abtem and ase)
- ``patches``        square windows around atoms
- ``store``          streaming, chunked appends to Zarr
- ``metrics``        point matching and detection scores
"""

__version__ = "0.1.0"
