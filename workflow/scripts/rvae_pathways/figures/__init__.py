"""Figures: the kit, then one module per figure family (STEM, pathways, PFM, the lattice check)."""
