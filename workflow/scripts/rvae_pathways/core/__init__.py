"""Errors, the frames dataset, Zarr stores, the rule runner, geometry, noise, the class vocabulary."""
