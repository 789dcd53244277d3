"""The names of structural classes and events, shared by the simulator, the analysis and the scores."""

from __future__ import annotations


#: Structural classes of ``true_class`` (the code is the index).
CLASS_NAMES = ("pristine C", "Si", "C in 5-7 defect", "edge C")


#: Kinds of ``true_event_kind`` (the code is the index).
EVENT_KINDS = ("dopant hop", "atom removed", "Stone-Wales")

# What the acquisition of a frame records beside its pixels (frames' attrs, samples-table columns), in these units
ACQUISITION_UNITS = {"frame_time_s": "seconds", "dose_e_per_A2_per_frame": "e/Å²"}
