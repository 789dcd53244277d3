"""Rule simulate_pfm: write the built-in PFM switching sequence (with ground truth) to Zarr."""

from rvae_pathways.core.frames import set_acquisition, write_frames
from rvae_pathways.pfm.piezoresponse import add_piezoresponse
from rvae_pathways.core.runner import run
from rvae_pathways.sim.pfm import simulate_pfm_movie


def main(snakemake, log):
    params = dict(snakemake.params.simulation)
    log.info("simulating a PFM switching sequence: %s", params)
    frame_time_s = params.pop("frame_time_s")  # the sequence's metadata; the pixels do not depend on it
    movie = set_acquisition(add_piezoresponse(simulate_pfm_movie(**params)), "simulator", frame_time_s=frame_time_s)
    write_frames(movie, snakemake.output.movie)
    log.info(
        "wrote %s: %d frames of %dx%d px; switched fraction %s; phase offset %.1f deg (estimated %.1f deg)",
        snakemake.output.movie, movie.sizes["frame"], movie.sizes["y"], movie.sizes["x"],
        " ".join(f"{f:.2f}" for f in movie["true_switched_fraction"].values),
        movie.attrs["true_phase_offset_deg"], movie.attrs["phase_offset_deg"],
    )


run(snakemake, main)  # noqa: F821 (snakemake is injected by Snakemake)
