"""Atom finding on the real HAADF image of SrTiO3 [110] (../shared/data/real)."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from rvae_pathways.stem.align import normalise_intensity
from rvae_pathways.stem.atoms import find_atoms
from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.io.readers import read_frames

A_NM = 0.3905  # cubic lattice constant of SrTiO3
PIXEL_NM = 0.00933


@pytest.fixture(scope="module")
def columns(real_data):
    frames = read_frames(real_data / "srtio3_110_haadf.hdf5", pixel_size_nm=PIXEL_NM)
    image = normalise_intensity(frames["image"][0].values)
    found = find_atoms(image, SampleGeometry(PIXEL_NM, A_NM / 2).spacing_px)
    positions = np.stack([found["y"], found["x"]], 1) * PIXEL_NM  # nm
    ny, nx = image.shape
    inside = (found["y"] >= 0) & (found["y"] <= ny - 1) & (found["x"] >= 0) & (found["x"] <= nx - 1)
    return positions, found["intensity"], inside, (ny * PIXEL_NM, nx * PIXEL_NM)


def test_columns_sit_half_a_lattice_constant_apart(columns):
    # [110]: Sr and Ti columns alternate along [001] at a / 2
    positions, _, _, _ = columns
    nearest = cKDTree(positions).query(positions, 2)[0][:, 1]
    assert np.median(nearest) == pytest.approx(A_NM / 2, rel=0.02)


def test_two_column_families_in_equal_numbers(columns):
    _, intensity, inside, _ = columns
    split = 0.5 * (intensity.min() + intensity.max())
    bright, dim = intensity[inside] > split, intensity[inside] <= split
    assert intensity[inside][bright].mean() > 1.5 * intensity[inside][dim].mean()  # Sr (Z=38) vs Ti (Z=22)
    assert abs(bright.sum() - dim.sum()) <= 0.1 * inside.sum()
    # no column inside the frame in between: the families are well separated
    assert np.all(np.abs(intensity[inside] - split) > 0.05 * (intensity.max() - intensity.min()))


def test_column_count_matches_the_projected_cell(columns):
    # the [110] projection repeats every a / sqrt(2) x a and holds one Sr and one Ti column per cell
    _, _, inside, (height, width) = columns
    expected = 2 * height * width / (A_NM / np.sqrt(2) * A_NM)
    assert inside.sum() == pytest.approx(expected, rel=0.05)


def test_sr_columns_form_the_projected_rectangle(columns):
    positions, intensity, _, _ = columns
    sr = positions[intensity > 0.5 * (intensity.min() + intensity.max())]
    d = cKDTree(sr).query(sr, 5)[0][:, 1:]
    assert np.median(d[:, 0]) == pytest.approx(A_NM / np.sqrt(2), rel=0.02)  # along [1-10]
    assert np.median(d[:, 2]) == pytest.approx(A_NM, rel=0.02)  # along [001]


def test_real_file_states_no_frame_time_or_dose(real_data):
    # the atomap test file has no acquisition metadata: nothing is made up
    frames = read_frames(real_data / "srtio3_110_haadf.hdf5", pixel_size_nm=PIXEL_NM)
    assert not {"frame_time_s", "dose_e_per_A2_per_frame", "dwell_time_s"} & set(frames.attrs)
    given = read_frames(real_data / "srtio3_110_haadf.hdf5", PIXEL_NM, frame_time_s=2.0)
    assert (given.attrs["frame_time_s"], given.attrs["frame_time_source"]) == (2.0, "samples table")
