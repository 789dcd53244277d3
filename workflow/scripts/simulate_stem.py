"""Rule simulate_stem: write the built-in STEM movie (with ground truth) to Zarr."""

from rvae_pathways.core.frames import set_acquisition, write_frames
from rvae_pathways.core.runner import run
from rvae_pathways.sim.stem import simulate_stem_movie


def main(snakemake, log):
    params = dict(snakemake.params.simulation)
    shape = (params.pop("height"), params.pop("width"))
    log.info("simulating %d frames of %dx%d px: %s", params["n_frames"], *shape, params)
    # the acquisition the movie claims (its metadata; the pixels do not depend on it)
    acquisition = {key: params.pop(key) for key in ("frame_time_s", "dose_e_per_A2_per_frame")}
    movie = set_acquisition(simulate_stem_movie(shape=shape, **params), "simulator", **acquisition)
    write_frames(movie, snakemake.output.movie)
    log.info("wrote %s (%d true atoms, %d events)", snakemake.output.movie, movie.sizes["true_atom"], movie.sizes["true_event"])


run(snakemake, main)  # noqa: F821 (snakemake is injected by Snakemake)
