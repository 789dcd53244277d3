"""Tracking atoms over the movie, classes, kinetics and events."""
