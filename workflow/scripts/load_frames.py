"""Rule load_frames: read the sample's file into the frames Dataset and cache it as Zarr.

A pfm sample's file goes through :func:`rvae_pathways.pfm.piezoresponse.read_pfm_frames`: a
multi-channel scan (e.g. an Asylum .ibw) is read with every channel and its ``image`` becomes the
piezoresponse; a file of piezoresponse images is read as it is. The samples table's frame time and
dose per frame, where given, override the file's (``read_frames``).
"""

from rvae_pathways.core.frames import acquisition, write_frames
from rvae_pathways.core.runner import run
from rvae_pathways.io.readers import read_frames
from rvae_pathways.pfm.piezoresponse import read_pfm_frames


def main(snakemake, log):
    params = snakemake.params
    path, pixel_size_nm, modality = snakemake.input.raw, params.pixel_size_nm, params.modality
    if modality == "pfm":  # no electron dose
        frames = read_pfm_frames(path, pixel_size_nm=pixel_size_nm, skip_bad_frames=params.skip_bad_frames,
                                 frame_time_s=params.acquisition.get("frame_time_s"))
    else:
        frames = read_frames(path, pixel_size_nm=pixel_size_nm, modality=modality,
                             skip_bad_frames=params.skip_bad_frames, **params.acquisition)
    log.info(
        "read %s: %d frames of %dx%d px at %.5g nm/px",
        path, frames.sizes["frame"], frames.sizes["y"], frames.sizes["x"], frames.attrs["pixel_size_nm"],
    )
    for frame, problem in zip(frames.attrs.get("skipped_frames", []), frames.attrs.get("skipped_frame_problems", [])):
        log.warning("skipped frame %d of the file: %s (prepare.skip_bad_frames)", frame, problem)
    known = acquisition(frames.attrs)
    log.info(
        "frame time: %s; dose per frame: %s",
        "unknown" if known["frame_time_s"] is None
        else f"{known['frame_time_s']:.4g} s ({frames.attrs.get('frame_time_source', 'file')})",
        "unknown" if known["dose_e_per_A2_per_frame"] is None
        else f"{known['dose_e_per_A2_per_frame']:.4g} e-/A^2 ({frames.attrs.get('dose_source', 'file')})",
    )
    if "phase_offset_deg" in frames.attrs:
        log.info(
            "piezoresponse from channels %s and %s, phase offset %.4g deg",
            frames.attrs["amplitude_channel"], frames.attrs["phase_channel"], frames.attrs["phase_offset_deg"],
        )
    write_frames(frames, snakemake.output.frames)


run(snakemake, main)  # noqa: F821
