"""rvae_pathways: the library behind the Snakemake workflow.

Sub-packages mirror the workflow's DAG; each imports only its own modules and those of the
packages listed before it (``tests/test_layout.py``). Nothing heavy is imported here.

- ``core``      errors, the frames Dataset, Zarr stores, the rule runner, geometry, noise, vocabulary
- ``io``        readers for .npy, TIFF, HyperSpy, Digital Micrograph, Velox EMD, Igor .ibw, Zarr
- ``sim``       the demo STEM simulator, the PFM switching simulator, the abTEM corpus generator
- ``stem``      alignment, atom finding, the lattice check, atoms of a movie, patches
- ``pfm``       piezoresponse from amplitude and phase, tiles
- ``rvae``      the model, training, encoding, the latent manifold
- ``pathways``  tracking atoms through the movie, classes, kinetics, events
- ``scores``    everything that compares with a simulator's truth
- ``figures``   the figure kit and the figures of each branch
"""

__version__ = "0.1.0"
