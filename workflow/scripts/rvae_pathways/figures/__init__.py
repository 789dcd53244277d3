"""Figures: the STEM kit and figures, pathways, PFM, the lattice check."""
