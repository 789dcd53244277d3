"""Many movies, one latent space: groups of movies sharing one model (issue #18, points 3-5).

- the samples table's ``group`` and ``simulate`` columns (``rvae_pathways.core.samples``);
- training on several patch stores read movie by movie (``rvae_pathways.rvae.stores``): a group of
  one movie trains bitwise what ``fit`` trains on its array, every patch is seen once per epoch
  whatever the buffer, memory holds one buffer, each movie's weight is as documented, and a
  killed run resumes exactly;
- the comparison of a group's movies (``rvae_pathways.pathways.groups``, ``figures.groups``);
- the DAG: one training job per group and model, one encode job per movie, the per-sample
  training never run for a grouped movie, the group's outputs and clear refusals;
- (a tiny real run of a group of two simulated movies through Snakemake: test_workflow_groups.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from rvae_pathways.core.samples import group_members, simulator_overrides, simulator_settings
from rvae_pathways.figures.groups import group_comparison_figure
from rvae_pathways.pathways.groups import (assign_classes, comparison_axis, fit_rows,
                                           latent_density, latent_edges, movie_comparison)
from rvae_pathways.pathways.kinetics import fit_classes
from rvae_pathways.pathways.units import fit_units
from rvae_pathways.rvae.stores import PatchStores
from rvae_pathways.rvae.train import estimate_noise_std, fit, training_set
from workflow_runs import ROOT, SIM, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

TINY = {"restarts": 2, "warmup_epochs": 1, "hidden": 16, "layers": 1, "noise_std": 0.1, "batch_size": 32,
        "ring_weight": 10.0, "ring_reconstruction": 5.0}


def write_store(path, patches, chunk=50):
    """A patches.zarr store as extract_patches writes it (variable image, dims patch, py, px)."""
    xr.Dataset({"image": (("patch", "py", "px"), patches)}).chunk({"patch": chunk}).to_zarr(path, mode="w")
    return str(path)


@pytest.fixture
def movies(tmp_path):
    """Three small movies of 9 x 9 patches: 230, 70 and 120 patches, in chunks of 50."""
    rng = np.random.default_rng(0)
    arrays = [rng.poisson(lam, (n, 9, 9)).astype(np.float32) for n, lam in ((230, 5.0), (70, 8.0), (120, 3.0))]
    paths = [write_store(tmp_path / f"m{i}.zarr", a) for i, a in enumerate(arrays)]
    return arrays, paths


# ---- the samples table's columns ---------------------------------------------------------------


def test_groups_are_read_in_table_order_and_only_stem_movies_form_them():
    rows = [("a", "stem", "g"), ("b", "stem", ""), ("c", "stem", "h"), ("d", "stem", "g"), ("e", "pfm", None)]
    assert group_members(rows) == {"g": ["a", "d"], "h": ["c"]}
    with pytest.raises(ValueError, match="only STEM movies form groups"):
        group_members([("p", "pfm", "g")])
    with pytest.raises(ValueError, match="sample name 'groups' is reserved"):
        group_members([("groups", "stem", "")])


def test_a_simulated_sample_changes_its_simulators_settings_in_its_own_row():
    section = {"n_frames": 20, "seed": 0, "frame_time_s": 1.0, "dose_e_per_A2_per_frame": 1e6}
    schema = {"type": "object", "properties": {"n_frames": {"type": "integer", "minimum": 1},
                                               "frame_time_s": {"type": "number", "exclusiveMinimum": 0}}}
    settings = simulator_settings("s1", "stem", section, schema, "{seed: 3, n_frames: 4, hop_probability: 0.2}",
                                  {"frame_time_s": float("nan"), "dose_e_per_A2_per_frame": 2e5, "pixel_size_nm": 1})
    assert settings == {"n_frames": 4, "seed": 3, "frame_time_s": 1.0, "dose_e_per_A2_per_frame": 2e5,
                        "hop_probability": 0.2}
    assert section["n_frames"] == 20  # the config's own section is left alone
    # a PFM sequence has no electron dose: the column does not reach its simulator
    assert "dose_e_per_A2_per_frame" not in simulator_settings("p", "pfm", {"seed": 0}, {}, "",
                                                              {"dose_e_per_A2_per_frame": 5.0})
    with pytest.raises(ValueError, match="sample 's1': simulator setting n_frames: 0 is less than the minimum"):
        simulator_settings("s1", "stem", section, schema, "{n_frames: 0}")
    for bad in ("seed=3", "[1, 2]", "{seed: [}"):
        with pytest.raises(ValueError, match="sample 's1': simulate must be a YAML mapping"):
            simulator_overrides(bad, "s1")
    assert simulator_overrides("  ", "s1") == {}


# ---- training on several stores ---------------------------------------------------------------


def test_a_group_of_one_movie_trains_bitwise_what_fit_trains_on_its_array(movies):
    arrays, paths = movies
    stores = PatchStores(paths[:1], ["m0"], augment_rot90=True)
    x, scale = training_set(arrays[0], augment_rot90=True)
    assert stores.scale == scale and len(stores) == len(x)
    assert stores.noise_std() == pytest.approx(estimate_noise_std(x[: len(arrays[0])]), rel=1e-12)
    model_a, history_a = fit(x, TINY, epochs=2, seed=0)
    model_b, history_b = fit(stores, TINY, epochs=2, seed=0)
    assert [h["total"] for h in history_a] == [h["total"] for h in history_b]
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)


def test_an_epoch_sees_every_patch_and_turn_once_and_holds_one_buffer_at_a_time(movies, monkeypatch):
    arrays, paths = movies
    stores = PatchStores(paths, ["m0", "m1", "m2"], augment_rot90=True, buffer_patches=100)
    assert stores.scale == max(a.max() for a in arrays)
    x, _ = training_set(np.concatenate(arrays), augment_rot90=True)  # the array the stores never build
    held = []
    read = stores._read
    monkeypatch.setattr(stores, "_read", lambda blocks: held.append(len(r := read(blocks))) or r)
    generator = torch.Generator().manual_seed(0)
    epochs = [torch.cat(list(stores.batches(32, generator, "cpu"))) for _ in range(2)]
    for seen in epochs:
        assert seen.shape == x.shape
        # the same patches (as a multiset): sorted rows agree
        key = lambda t: torch.as_tensor(np.asarray(t)).flatten(1).sum(1)  # noqa: E731
        assert torch.allclose(key(seen).sort().values, key(x).sort().values)
    assert max(held) <= 100 * 4  # a buffer: at most buffer_patches patches, with their turns
    assert not torch.equal(epochs[0], epochs[1])  # a new shuffle every epoch, across the movies


def test_each_movies_weight_is_its_patches_or_an_equal_share(movies):
    arrays, paths = movies
    by_patch = PatchStores(paths, ["m0", "m1", "m2"], augment_rot90=False).weights_table()
    assert [w["per_epoch"] for w in by_patch] == [230, 70, 120]
    assert [w["patch_weight"] for w in by_patch] == [1.0, 1.0, 1.0]
    stores = PatchStores(paths, ["m0", "m1", "m2"], augment_rot90=False, weight="movie", buffer_patches=64)
    table = stores.weights_table()
    assert [w["per_epoch"] for w in table] == [140, 140, 140] and len(stores) == 420
    assert [round(w["share"], 6) for w in table] == [round(1 / 3, 6)] * 3
    # m1 (70 patches) gives each of them twice; m0 (230) a new draw of 140 every epoch
    generator = torch.Generator().manual_seed(1)
    rows = [stores._epoch_rows(generator) for _ in range(2)]
    assert np.array_equal(rows[0][1], np.repeat(np.arange(70), 2))
    assert len(np.unique(rows[0][0])) == 140 and not np.array_equal(rows[0][0], rows[1][0])
    assert len(torch.cat(list(stores.batches(50, generator, "cpu")))) == 420


def test_a_killed_group_training_resumes_exactly(movies, tmp_path):
    _, paths = movies
    stores = PatchStores(paths, ["m0", "m1", "m2"], buffer_patches=150)
    straight, _ = fit(stores, TINY, epochs=3, seed=1)
    fit(stores, TINY, epochs=2, seed=1, checkpoint_dir=tmp_path / "ck")  # "killed" after epoch 2
    resumed, history = fit(stores, TINY, epochs=3, seed=1, checkpoint_dir=tmp_path / "ck")
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    # other data or weights name another checkpoint
    other = PatchStores(paths[:2], ["m0", "m1"], buffer_patches=150)
    assert other.digest() != stores.digest()
    assert PatchStores(paths, ["m0", "m1", "m2"], weight="movie").digest() != PatchStores(paths).digest()


def test_movies_whose_patches_differ_in_size_or_that_have_none_are_refused(tmp_path, movies):
    _, paths = movies
    odd = write_store(tmp_path / "odd.zarr", np.ones((10, 7, 7), np.float32))
    with pytest.raises(Exception, match="patches of one size"):
        PatchStores([paths[0], odd], ["m0", "odd"])
    empty = write_store(tmp_path / "empty.zarr", np.ones((0, 9, 9), np.float32))
    with pytest.raises(Exception, match="movie empty has no patches"):
        PatchStores([paths[0], empty], ["m0", "empty"])


# ---- the comparison ------------------------------------------------------------------------------


def synthetic_movie(seed: int, share_b: float, n_tracks: int = 60, n_frames: int = 6, dose=None) -> dict:
    """Tracks in two latent clusters (A near 0, B near 4); a share of them turns from A to B half-way."""
    rng = np.random.default_rng(seed)
    track = np.repeat(np.arange(n_tracks), n_frames)
    frame = np.tile(np.arange(n_frames), n_tracks)
    turns = rng.random(n_tracks) < share_b
    in_b = turns[track] & (frame >= n_frames // 2)
    z = rng.normal(0, 0.3, (len(track), 2)) + 4.0 * in_b[:, None]
    return {"z": z, "groups": None, "track": track, "frame": frame, "source_frame": np.arange(n_frames),
            "y": (track % 10) * 20.0, "x": (track // 10) * 20.0, "n_frames": n_frames,
            "acq": {"frame_time_s": 1.0, "dose_e_per_A2_per_frame": dose}}


def test_shared_classes_assign_every_movie_alike_and_count_its_changes():
    movies = [synthetic_movie(i, share, dose=dose) for i, (share, dose) in enumerate(((0.1, 1e5), (0.5, 4e5)))]
    z = np.concatenate([m["z"][fit_rows(len(m["z"]), i, 2, total=400)] for i, m in enumerate(movies)])
    assert len(z) == 400 and len(fit_rows(90, 0, 1000)) == 90  # 200 of each movie; all of a short one
    _, info, unit_of_class, merge = fit_units(z, None, n_classes=2, bic_range=(2, 2), seed=0, min_overlap=0.2)
    labels, _ = fit_classes(z, 2, (2, 2), seed=0)
    assert np.mean(assign_classes(z, info) == labels) > 0.99  # the mixture's own posterior
    edges = latent_edges([m["z"].min(0) for m in movies], [m["z"].max(0) for m in movies], bins=20)
    names = [f"unit {u}" for u in range(int(unit_of_class.max()) + 1)]
    out = [movie_comparison(m, info, unit_of_class, edges, names, min_persist=2, swap_radius_px=None) for m in movies]
    for summary in out:
        assert sum(summary["unit_fraction"]) == pytest.approx(1.0)
        assert np.sum(np.asarray(summary["latent_density"][0]) * np.diff(edges[0])) == pytest.approx(1.0)
    rare = int(np.argmin(out[0]["unit_fraction"]))
    assert out[1]["unit_fraction"][rare] > out[0]["unit_fraction"][rare]  # more tracks turned in movie 2
    assert out[1]["events"]["n_events"] > out[0]["events"]["n_events"] > 0
    per_frame, per_dose = out[1]["events"]["per_frame"], out[1]["events"]["per_dose"]
    assert per_dose["estimate"] == pytest.approx(per_frame["estimate"] / 4e5)
    assert per_frame["low"] < per_frame["estimate"] < per_frame["high"]
    assert comparison_axis(out, ["a", "b"])["name"] == "dose_e_per_A2_per_frame"
    assert comparison_axis([{"frame_time_s": 1.0}] * 2, ["a", "b"]) == {
        "name": "movie", "label": "movie", "values": [0, 1], "ticks": ["a", "b"]}
    assert latent_density(np.zeros((0, 2)), edges) == [[0.0] * 20, [0.0] * 20]


def test_the_comparison_figure_draws_every_panel_against_dose_or_movie():
    movies = [synthetic_movie(i, share, dose=dose) for i, (share, dose) in enumerate(((0.1, 1e5), (0.3, 2e5),
                                                                                       (0.5, 4e5)))]
    _, info, unit_of_class, merge = fit_units(np.concatenate([m["z"] for m in movies]), None, n_classes=2,
                                              bic_range=(2, 2), seed=0, min_overlap=0.2)
    names = [f"unit {u}" for u in range(int(unit_of_class.max()) + 1)]
    edges = latent_edges([m["z"].min(0) for m in movies], [m["z"].max(0) for m in movies])
    per_movie = [{"sample": f"m{i}", **movie_comparison(m, info, unit_of_class, edges, names, min_persist=2,
                                                        swap_radius_px=None)} for i, m in enumerate(movies)]
    comparison = {"group": "g", "model": "rvae", "movies": ["m0", "m1", "m2"], "per_movie": per_movie,
                  "axis": comparison_axis(per_movie, ["m0", "m1", "m2"]),
                  "latent_edges": [e.tolist() for e in edges], "units": {**merge, "names": names}}
    fig = group_comparison_figure(json.loads(json.dumps(comparison)))
    assert len(fig.axes) == 6 and "3 movies in one rVAE latent space" in fig._suptitle.get_text()
    assert fig.axes[3].get_xlabel().startswith("dose per frame")
    for movie in per_movie:
        movie["dose_e_per_A2_per_frame"] = None
        movie["events"]["per_dose"] = None
    comparison["axis"] = comparison_axis(per_movie, ["m0", "m1", "m2"])
    fig = group_comparison_figure(comparison)
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == ["m0", "m1", "m2"]
    assert fig.axes[4].get_title() == "unit changes per second"


# ---- the DAG ---------------------------------------------------------------------------------------


def grouped(name: str, group: str = "g", **extra) -> dict:
    return {**SIM, "sample": name, "group": group, **extra}


def test_a_group_trains_one_model_per_model_kind_and_encodes_each_movie_in_its_own_job(tmp_path):
    write_config(tmp_path, [grouped("a"), grouped("b"), grouped("c", "h"), SIM])
    jobs = planned_jobs(tmp_path)
    assert jobs["train_group_model"] == 4  # groups g and h, rvae and vae
    assert jobs["train_model"] == 2  # only the sample in no group: rvae and vae
    assert jobs["encode_patches"] == 8 and jobs["compare_group"] == 4 and jobs["plot_group"] == 4
    # a movie of a group has no model of its own
    result = snakemake(tmp_path, "--dry-run", "results/a/rvae/model.pt")
    assert result.returncode != 0
    assert "sample 'a' is a movie of group 'g', whose movies share one model: results/groups/g/rvae/model.pt" in (
        result.stdout + result.stderr)


def test_without_movie_outputs_a_grouped_movie_makes_only_what_the_comparison_reads(tmp_path):
    write_config(tmp_path, [grouped("a"), grouped("b")], models=["rvae"], groups={"movie_outputs": False})
    jobs = planned_jobs(tmp_path)
    assert set(jobs) == {"simulate_stem", "load_frames", "prepare_frames", "find_atoms", "extract_patches",
                         "train_group_model", "encode_patches", "track_atoms", "analyse_pathways", "compare_group",
                         "plot_group", "all"}
    assert jobs["train_group_model"] == 1 and jobs["encode_patches"] == 2


@pytest.mark.parametrize("rows, expected", [
    ([{**SIM, "modality": "pfm", "spacing_nm": "", "group": "g"}], "only STEM movies form groups"),
    ([{**SIM, "sample": "groups"}], "sample name 'groups' is reserved"),
    ([{**SIM, "group": "a/b"}], "group"),
    ([{**SIM, "simulate": "{n_frames: 0}"}], "sample 'tiny': simulator setting n_frames: 0 is less than the minimum"),
    ([{**SIM, "simulate": "n_frames=2"}], "sample 'tiny': simulate must be a YAML mapping"),
    ([{"sample": "f", "path": "x.npy", "modality": "stem", "spacing_nm": 0.142, "simulate": "{seed: 1}"}],
     "the simulate column is for simulated samples"),
])
def test_bad_group_or_simulate_cells_are_refused_before_anything_runs(tmp_path, rows, expected):
    (tmp_path / "x.npy").write_bytes(b"")
    write_config(tmp_path, rows)
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


def test_the_group_demo_table_plans_one_model_for_four_movies_at_four_doses(tmp_path):
    table = ROOT / "config" / "samples_group.tsv"
    write_config(tmp_path, [])
    (tmp_path / "config.yaml").write_text((tmp_path / "config.yaml").read_text().replace(
        "samples: samples.tsv", f"samples: {table}"))
    jobs = planned_jobs(tmp_path)
    assert jobs["simulate_stem"] == 4 and jobs["train_group_model"] == 2 and "train_model" not in jobs


# ---- a tiny real run ---------------------------------------------------------------------------------


def test_movies_of_one_flake_share_its_lattice_orientation_whatever_their_seed():
    from rvae_pathways.sim.stem import simulate_stem_movie

    angles = [simulate_stem_movie(1, (64, 64), seed=seed, lattice_angle_deg=70.0).attrs["true_lattice_angle_deg"]
              for seed in (1, 2)]
    assert angles == pytest.approx([10.0, 10.0])  # 70 degrees is 10 on graphene's 60-degree lattice
    drawn = simulate_stem_movie(1, (64, 64), seed=1)
    given = simulate_stem_movie(1, (64, 64), seed=1, lattice_angle_deg=drawn.attrs["true_lattice_angle_deg"])
    assert np.array_equal(drawn["image"].values, given["image"].values)  # the random stream is unchanged
