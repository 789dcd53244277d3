"""Exports: the workflow's results in formats other tools open as they are (HyperSpy files,
trackpy/napari tables, domain stores). They only rewrite what the rules computed, and never read a
simulator's truth."""
