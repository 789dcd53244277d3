"""PFM: piezoresponse from amplitude and phase, tiles."""
