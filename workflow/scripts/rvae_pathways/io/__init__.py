"""Readers of the microscope formats."""
