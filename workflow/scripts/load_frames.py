"""Rule load_frames: read the sample's file into the frames Dataset and cache it as Zarr.

A pfm sample's file goes through :func:`rvae_pathways.pfm.piezoresponse.read_pfm_frames`: a
multi-channel scan (e.g. an Asylum .ibw) is read with every channel and its ``image`` becomes the
piezoresponse; a file of piezoresponse images is read as it is.
"""

from rvae_pathways.core.frames import write_frames
from rvae_pathways.io.readers import read_frames
from rvae_pathways.core.runner import run
from rvae_pathways.pfm.piezoresponse import read_pfm_frames


def main(snakemake, log):
    path, pixel_size_nm, modality = snakemake.input.raw, snakemake.params.pixel_size_nm, snakemake.params.modality
    if modality == "pfm":
        frames = read_pfm_frames(path, pixel_size_nm=pixel_size_nm)
    else:
        frames = read_frames(path, pixel_size_nm=pixel_size_nm, modality=modality)
    log.info(
        "read %s: %d frames of %dx%d px at %.5g nm/px",
        path, frames.sizes["frame"], frames.sizes["y"], frames.sizes["x"], frames.attrs["pixel_size_nm"],
    )
    if "phase_offset_deg" in frames.attrs:
        log.info(
            "piezoresponse from channels %s and %s, phase offset %.4g deg",
            frames.attrs["amplitude_channel"], frames.attrs["phase_channel"], frames.attrs["phase_offset_deg"],
        )
    write_frames(frames, snakemake.output.frames)


run(snakemake, main)  # noqa: F821
