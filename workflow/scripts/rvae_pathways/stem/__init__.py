"""STEM: alignment, atom finding, the lattice check, patches."""
