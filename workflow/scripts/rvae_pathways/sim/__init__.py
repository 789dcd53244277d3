"""Simulators: the fast STEM demo movie, PFM switching, the abTEM physics corpus."""
