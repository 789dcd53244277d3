"""Tests of the atom QC figure (rvae_pathways.figures.qc)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from figure_checks import all_text, check_png, panels, run_without_pyplot
from rvae_pathways.figures import qc as plots_qc
from rvae_pathways.stem.qc_verdicts import THRESHOLDS, summarise, verdict_of


def make_qc(n_frames=12, sample="graphene_1"):
    """QC JSON of a movie: frames 0-7 fine, 8-9 on a support (warn), 10 with a wrong scale (fail),
    11 without atoms (fail, every metric None)."""
    frames = []
    for i in range(n_frames):
        metrics = {"frame": i, "n_atoms": 150, "spacing_px": 14.2, "density_ratio": 0.8 + 0.01 * i,
                   "nn_ratio_median": 0.99, "missed_peak_share": 0.02, "resolved_fraction": 1.0 - 0.03 * i,
                   "lattice_atom_share": 1.0, "outside_lattice_share": 0.01, "amorphous_fraction": 0.0}
        if i in (8, 9):
            metrics.update(resolved_fraction=0.5, outside_lattice_share=0.45, amorphous_fraction=0.45)
        if i == 10:
            metrics.update(density_ratio=0.2, nn_ratio_median=1.95, lattice_atom_share=0.05)
        if i == 11:
            metrics = {"frame": i, "n_atoms": 0, "spacing_px": 14.2, "resolved_fraction": 0.0,
                       **{k: None for k in ("density_ratio", "nn_ratio_median", "missed_peak_share",
                                            "lattice_atom_share", "outside_lattice_share",
                                            "amorphous_fraction")}}
        metrics["verdict"], metrics["reasons"] = verdict_of(metrics)
        frames.append(metrics)
    return {"sample": sample, "frames": frames, "summary": summarise(frames)}


@pytest.fixture(scope="module")
def qc():
    return make_qc()


def test_the_example_movie_has_every_verdict(qc):
    assert [f["verdict"] for f in qc["frames"]] == ["ok"] * 8 + ["warn", "warn", "fail", "fail"]


def test_verdict_bands_follow_the_thresholds():
    bands = plots_qc.verdict_bands("density_ratio", 0.0, 3.0)
    ok_lo, ok_hi = THRESHOLDS["density_ratio"]["ok"]
    warn_lo, warn_hi = THRESHOLDS["density_ratio"]["warn"]
    assert bands == [("fail", 0.0, warn_lo), ("warn", warn_lo, ok_lo), ("ok", ok_lo, ok_hi),
                     ("warn", ok_hi, warn_hi), ("fail", warn_hi, 3.0)]
    ok_floor = THRESHOLDS["lattice_atom_share"]["ok"][0]
    assert plots_qc.verdict_bands("lattice_atom_share", 0.0, 1.0)[-1] == ("ok", ok_floor, 1.0)
    # resolved_fraction: fail below its floor, no warn band
    assert [b[0] for b in plots_qc.verdict_bands("resolved_fraction", 0.0, 1.0)] == ["fail", "ok"]


def test_plotting_never_imports_pyplot(tmp_path):
    run_without_pyplot(
        "import test_plots_qc as t; from rvae_pathways.figures import qc as p; "
        f"p.plot_atom_qc(t.make_qc(), r'{tmp_path / 'qc.png'}')"
    )
    assert (tmp_path / "qc.png").is_file()
    source = (Path(__file__).resolve().parents[1] / "workflow/scripts/rvae_pathways/figures/qc.py").read_text()
    assert "import pyplot" not in source and "matplotlib.pyplot" not in source


def test_figure_has_a_panel_per_metric_with_bands_points_and_labels(qc, tmp_path):
    assert plots_qc.plot_atom_qc(qc, tmp_path / "qc.png") is None
    check_png(tmp_path / "qc.png")
    fig = plots_qc.atom_qc_figure(qc)
    axes = panels(fig)
    assert len(axes) == len(plots_qc.PANELS) == 7
    text = all_text(fig)
    assert "Atom QC of graphene_1: FAIL" in fig.get_suptitle()
    assert "8 ok" in fig.get_suptitle() and "2 warn" in fig.get_suptitle()
    for label in ("frame ok (8)", "frame warn (2)", "frame fail (2)", "ok band", "warn band", "fail band"):
        assert label in text
    for ax, (name, title, ylabel, _) in zip(axes, plots_qc.PANELS):
        assert ax.get_title() == title and ax.get_ylabel() == ylabel
        # the ok band covers the metric's ok range
        ok = [p for p in ax.patches if p.get_gid() == "band-ok"]
        assert ok, name
        lo, hi = THRESHOLDS[name]["ok"]
        y0, y1 = sorted([ok[0].get_extents().y0, ok[0].get_extents().y1])
        to_data = ax.transData.inverted()
        bottom, top = to_data.transform((0, y0))[1], to_data.transform((0, y1))[1]
        assert lo is None or bottom == pytest.approx(lo, abs=1e-6)
        assert hi is None or top == pytest.approx(hi, abs=1e-6)
    assert all(ax.get_xlabel() == "frame (index)" for ax in axes[-2:])


def test_points_are_the_frames_coloured_by_verdict(qc):
    fig = plots_qc.atom_qc_figure(qc)
    density = panels(fig)[0]
    by_gid = {c.get_gid(): c for c in density.collections}
    fail = by_gid["frames-fail"].get_offsets()
    np.testing.assert_allclose(fail, [[10, 0.2]])  # frame 11 has no density: a gap
    assert len(by_gid["frames-ok"].get_offsets()) == 8
    assert len(by_gid["frames-warn"].get_offsets()) == 2
    for verdict, colour in plots_qc.VERDICT_COLOURS.items():
        np.testing.assert_allclose(by_gid[f"frames-{verdict}"].get_facecolor()[0], to_rgba(colour))
    # the wrong-scale frame is drawn in the red band of the density panel
    low, high = density.get_ylim()
    assert low <= 0.2 < THRESHOLDS["density_ratio"]["warn"][0]


def test_a_sample_without_values_still_draws():
    frames = [{"frame": 0, "n_atoms": 0, "verdict": "fail", "reasons": ["no atoms found"]}]
    fig = plots_qc.atom_qc_figure({"frames": frames, "summary": summarise(frames)})
    assert all_text(fig).count(plots_qc.NO_VALUES_TEXT) == len(plots_qc.PANELS)
    assert "Atom QC: FAIL" in fig.get_suptitle()
