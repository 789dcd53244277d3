"""Rule load_frames: read the sample's file into the frames Dataset and cache it as Zarr."""

from rvae_pathways.core.frames import write_frames
from rvae_pathways.io.readers import read_frames
from rvae_pathways.core.runner import run


def main(snakemake, log):
    frames = read_frames(
        snakemake.input.raw, pixel_size_nm=snakemake.params.pixel_size_nm, modality=snakemake.params.modality
    )
    log.info(
        "read %s: %d frames of %dx%d px at %.5g nm/px",
        snakemake.input.raw, frames.sizes["frame"], frames.sizes["y"], frames.sizes["x"], frames.attrs["pixel_size_nm"],
    )
    write_frames(frames, snakemake.output.frames)


run(snakemake, main)  # noqa: F821
