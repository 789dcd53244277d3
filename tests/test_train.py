import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rvae_pathways.rvae import epoch as epoch_module
from rvae_pathways.rvae import train as train_module
from rvae_pathways.rvae.encode import encode
from rvae_pathways.core.config import defaults
from rvae_pathways.core.errors import InputError
from rvae_pathways.rvae.epoch import batch_backward, evaluate, train_epoch
from rvae_pathways.rvae.loss import TERMS, elbo_loss, reconstruction_loss
from rvae_pathways.rvae.model import RVAE, make_grid
from rvae_pathways.rvae.train import (
    build_model,
    checkpoint_path,
    content_kl_weight,
    decoder_reads_z,
    estimate_noise_std,
    fit,
    load_checkpoint,
    load_model,
    priors_of,
    resolve_hyper,
    save_model,
    training_set,
)

ROOT = Path(__file__).resolve().parents[1]
# The library's defaults are the workflow's (the config schema's): ring spectra, warm-up, restarts, the noise
# estimated. These tests train the plain model, fast: one start, no warm-up, no ring spectra, sigma sqrt(1/2).
PLAIN = {"ring_weight": 0.0, "ring_reconstruction": 0.0, "warmup_epochs": 0, "restarts": 1, "noise_std": math.sqrt(0.5)}
TINY = {**PLAIN, "hidden": 16, "batch_size": 16, "lr": 3e-3}


def blobs(n_patches, size=8, seed=0):
    """Elongated Gaussian blobs at random positions and angles, intensities in [0, 1]."""
    rng = np.random.default_rng(seed)
    grid = make_grid(size).numpy()
    angle = rng.uniform(0, np.pi, n_patches)[:, None]
    centre = rng.uniform(-0.3, 0.3, (n_patches, 1, 2))
    u = grid[None] - centre
    along = np.cos(angle) * u[..., 0] + np.sin(angle) * u[..., 1]
    across = -np.sin(angle) * u[..., 0] + np.cos(angle) * u[..., 1]
    image = np.exp(-(along**2) / (2 * 0.4**2) - across**2 / (2 * 0.15**2))
    return image.reshape(n_patches, size, size).astype(np.float32)


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def losses(history):
    return [[h[k] for k in TERMS] for h in history]


def loss_settings(hyper):
    """The loss's explicit arguments of batch_backward, train_epoch and evaluate, from a resolved hyper."""
    return {"priors": priors_of(hyper), "likelihood": hyper["likelihood"], "precision": hyper["precision"]}


def noisy_blobs(n_patches, sigma=0.05):
    return blobs(n_patches) + np.random.default_rng(1).normal(0, sigma, (n_patches, 8, 8)).astype(np.float32)


def test_the_library_defaults_are_the_schema_s_and_fit_estimates_the_noise(tmp_path, caplog):
    assert train_module.DEFAULT_HYPER == defaults("rvae", "hyper")
    assert resolve_hyper({}, 8) == {**defaults("rvae", "hyper"), "patch_size": 8}
    assert resolve_hyper({}, 8)["noise_std"] is None  # None: fit estimates it
    x = noisy_blobs(24)
    hyper = {k: v for k, v in TINY.items() if k != "noise_std"}
    with caplog.at_level(logging.INFO):
        model, _ = fit(x, hyper, epochs=1, seed=0, checkpoint_dir=tmp_path, log=logging.getLogger("t"))
    sigma = estimate_noise_std(x)
    assert 0 < sigma < 0.5
    assert f"pixel noise of the patches (Gaussian likelihood sigma): {sigma:.4f}" in caplog.text
    (checkpoint,) = tmp_path.glob("checkpoint-*.pt")
    assert load_checkpoint(checkpoint)["hyper"]["noise_std"] == sigma
    assert same_weights(model, fit(x, {**hyper, "noise_std": sigma}, epochs=1, seed=0)[0])


def test_two_runs_with_one_seed_are_bitwise_identical_and_seeds_differ():
    x = blobs(40)
    a, hist_a = fit(x, TINY, epochs=2, seed=3)
    torch.manual_seed(1234)  # the global generator must not matter
    b, hist_b = fit(x, TINY, epochs=2, seed=3)
    c, _ = fit(x, TINY, epochs=2, seed=4)
    assert same_weights(a, b) and losses(hist_a) == losses(hist_b)
    assert not same_weights(a, c)
    assert hist_a[-1]["total"] < hist_a[0]["total"]
    assert [h["epoch"] for h in hist_a] == [1, 2]
    assert all(h["patches_per_s"] > 0 for h in hist_a)


def test_restarts_go_on_with_the_start_of_lowest_objective_after_the_warm_up(caplog, monkeypatch):
    x = blobs(48)
    hyper = {**TINY, "warmup_epochs": 2, "warmup_kl_z_weight": 20.0, "ring_reconstruction": 5.0}
    runs = [fit(x, hyper, epochs=2, seed=5 + i) for i in range(3)]  # seeds 5, 6, 7: the three starts
    objectives = [train_module.selection_loss(m, x, hyper, h[-1]) for m, h in runs]
    best = int(np.argmin(objectives))
    # the choice follows selection_loss: reversed, the start of the highest objective goes on
    objective = train_module.selection_loss
    monkeypatch.setattr(train_module, "selection_loss", lambda *args: -objective(*args))
    worst = fit(x, {**hyper, "restarts": 3}, epochs=2, seed=5)[1]
    assert {h["start"] for h in worst} == {int(np.argmax(objectives))} != {best}
    monkeypatch.undo()
    with caplog.at_level(logging.INFO):
        model, history = fit(x, {**hyper, "restarts": 3}, epochs=3, seed=5, log=logging.getLogger("t"))
    assert [h["epoch"] for h in history] == [1, 2, 3] and {h["start"] for h in history} == {best}
    assert losses(history[:2]) == losses(runs[best][1])
    alone, alone_history = fit(x, hyper, epochs=3, seed=5 + best)
    assert same_weights(model, alone) and losses(history) == losses(alone_history)
    assert f"start {best + 1} of 3 goes on" in caplog.text
    # one start is the run without restarts; no warm-up (or no rotation): compared after one epoch
    assert same_weights(fit(x, {**hyper, "restarts": 1}, epochs=2, seed=5)[0], fit(x, hyper, epochs=2, seed=5)[0])
    assert train_module.selection_epochs({"rotation": False, "warmup_epochs": 3}, 8) == 1
    assert train_module.selection_epochs({"rotation": True, "warmup_epochs": 3}, 2) == 2
    with pytest.raises(InputError, match="restarts"):
        fit(x, {**hyper, "restarts": 0}, epochs=1, seed=0)


def test_the_starts_are_compared_by_the_objective_they_were_trained_on():
    x = blobs(40)
    hyper = {**TINY, "warmup_epochs": 2, "warmup_kl_z_weight": 20.0, "ring_reconstruction": 5.0}
    model, history = fit(x, hyper, epochs=2, seed=1)
    terms = history[-1]
    assert terms["kl_z_weight"] == 20.0
    with torch.no_grad():
        patches = torch.as_tensor(x)
        mean, log_std = model.encoder(patches)
        ring = float(model.ring_decoder.loss(patches, model.split(mean, log_std)["z"][0])) / len(x)
    expected = terms["total"] + 19.0 * terms["kl_z"] + 5.0 * ring
    assert train_module.selection_loss(model, x, hyper, terms, batch_size=16) == pytest.approx(expected, rel=1e-6)
    # without ring spectra or a warm-up weight it is the plain ELBO
    plain, plain_history = fit(x, TINY, epochs=1, seed=1)
    assert train_module.selection_loss(plain, x, TINY, plain_history[-1]) == plain_history[-1]["total"]


def test_the_ring_spectra_reconstruction_trains_z_and_travels_with_the_model(tmp_path):
    from rvae_pathways.rvae.model import RingSpectrum

    x = blobs(48)
    assert build_model(resolve_hyper(TINY, 8)).ring_decoder is None  # ring_reconstruction 0: none
    hyper = {**TINY, "ring_reconstruction": 5.0}
    model, history = fit(x, hyper, epochs=2, seed=1)
    features = RingSpectrum(8, 1.0)(torch.as_tensor(x)).double()
    np.testing.assert_allclose(model.ring_decoder.mean.numpy(), features.mean(0).numpy(), rtol=1e-5, atol=1e-9)
    # the term reaches z: the encoder's gradient differs with and without it
    grads = []
    for weight in (0.0, 5.0):
        model.ring_reconstruction = weight
        model.zero_grad()
        batch_backward(model, torch.as_tensor(x[:16]), torch.zeros(16, model.encoder.n_out),
                       **loss_settings(resolve_hyper(hyper, 8)))
        grads.append(model.encoder.head.weight.grad.clone())
        assert (model.ring_decoder.net[-1].weight.grad is not None) == (weight > 0)
    assert not torch.equal(*grads)
    # fit once more: the same weights (one seed), and the saved model keeps the standardisation
    again, _ = fit(x, hyper, epochs=2, seed=1)
    assert same_weights(model, again)
    save_model(tmp_path / "m.pt", again, resolve_hyper(hyper, 8))
    loaded, _ = load_model(tmp_path / "m.pt")
    assert same_weights(again, loaded) and loaded.ring_reconstruction == 5.0


def test_resume_from_a_checkpoint_ends_where_an_uninterrupted_run_ends(tmp_path):
    x = blobs(40)
    reference, ref_history = fit(x, TINY, epochs=4, seed=0)
    folder = tmp_path / "run"
    fit(x, TINY, epochs=2, seed=0, checkpoint_dir=folder)
    (checkpoint,) = folder.glob("checkpoint-*.pt")
    assert checkpoint == checkpoint_path(folder, x, resolve_hyper(TINY, 8), 0)
    state = load_checkpoint(checkpoint)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert set(state) >= {"state_dict", "optimizer", "epoch", "generator", "history", "hyper"}
    resumed, history = fit(x, TINY, epochs=4, seed=0, checkpoint_dir=folder)
    assert losses(history) == losses(ref_history)
    assert same_weights(resumed, reference)
    assert load_checkpoint(checkpoint)["epoch"] == 4
    assert sorted(folder.iterdir()) == [checkpoint]  # no .tmp left


def test_the_checkpoint_is_named_after_data_settings_and_seed_and_others_are_removed(tmp_path, caplog):
    x = blobs(20)
    hyper, other = resolve_hyper(TINY, 8), resolve_hyper({**TINY, "lr": 1e-2}, 8)
    first, second = checkpoint_path(tmp_path, x, hyper, 0), checkpoint_path(tmp_path, x, other, 0)
    assert first.parent == tmp_path and first.name.startswith("checkpoint-") and first != second
    assert first != checkpoint_path(tmp_path, x, hyper, 1) != checkpoint_path(tmp_path, x[:10], hyper, 1)
    fit(x, TINY, epochs=1, seed=0, checkpoint_dir=tmp_path)
    assert list(tmp_path.glob("checkpoint-*.pt")) == [first]
    with caplog.at_level(logging.INFO):
        fit(x, other, epochs=1, seed=0, checkpoint_dir=tmp_path, log=logging.getLogger("t"))
    assert f"removing {first} (written for other data or settings)" in caplog.text
    assert list(tmp_path.glob("checkpoint-*.pt")) == [second]
    # a checkpoint under another run's name (copied by hand) is refused
    second.rename(first)
    with pytest.raises(InputError, match="other settings"):
        fit(x, TINY, epochs=2, seed=0, checkpoint_dir=tmp_path)


KILLED_RUN = """
import sys, numpy as np, torch
from rvae_pathways.rvae.train import fit
torch.set_num_threads(int(sys.argv[3]))
fit(np.load(sys.argv[1]), {hyper}, epochs=10_000, seed=5, checkpoint_dir=sys.argv[2])
"""


def test_a_run_killed_by_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    x = blobs(48)
    np.save(tmp_path / "patches.npy", x)
    folder = tmp_path / "run"
    checkpoint = checkpoint_path(folder, x, resolve_hyper(TINY, 8), 5)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow" / "scripts")}
    code = KILLED_RUN.format(hyper=repr(TINY))
    args = [sys.executable, "-c", code, str(tmp_path / "patches.npy"), str(folder), str(torch.get_num_threads())]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (checkpoint.exists() and load_checkpoint(checkpoint)["epoch"] >= 2):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint after 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = load_checkpoint(checkpoint)["epoch"]  # the last complete epoch, whatever was in flight
    assert done >= 2
    resumed, history = fit(x, TINY, epochs=done + 2, seed=5, checkpoint_dir=folder)
    reference, ref_history = fit(x, TINY, epochs=done + 2, seed=5)
    assert losses(history) == losses(ref_history)
    assert same_weights(resumed, reference)


class _Payload:
    """Unpickling this would create a file: a stand-in for code hidden in a checkpoint."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_checkpoints_and_models_load_with_weights_only(tmp_path):
    hyper = resolve_hyper(TINY, 8)
    model = build_model(hyper)
    save_model(tmp_path / "model.pt", model, {**hyper, "input_scale": 2.5})
    loaded, loaded_hyper = load_model(tmp_path / "model.pt")
    assert same_weights(model, loaded) and loaded_hyper["input_scale"] == 2.5
    x = torch.rand(3, 8, 8)
    assert torch.equal(model(x, sample=False)[0], loaded(x, sample=False)[0])

    marker = tmp_path / "executed"
    evil = {"state_dict": model.state_dict(), "hyper": hyper, "extra": _Payload(marker)}
    torch.save(evil, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="evil.pt: not a model written by this workflow .*unpickling it could run code.*; "
                                         "it was not loaded; delete it to retrain") as refused:
        load_model(tmp_path / "evil.pt")
    assert "weights_only" not in str(refused.value) and "\n" not in str(refused.value)  # one line, no advice to unpickle
    evil.update(optimizer={}, epoch=1, generator=torch.Generator().get_state(), history=[], seed=0)
    torch.save(evil, checkpoint_path(tmp_path, blobs(4), hyper, 0))
    with pytest.raises(InputError, match="not a model written by this workflow"):
        fit(blobs(4), TINY, epochs=2, seed=0, checkpoint_dir=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("content, why", [
    (torch.zeros(3), "holds a Tensor, not a dict"),
    ({"weights": torch.zeros(3)}, "not state_dict and hyper"),
    ({"state_dict": {"nonsense": torch.zeros(3)}, "hyper": resolve_hyper(TINY, 8)}, "weights do not fit"),
    (b"not a torch file at all", "not a file of tensors"),
])
def test_a_model_file_this_workflow_did_not_write_is_refused_in_one_line(tmp_path, content, why):
    path = tmp_path / "model.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(InputError, match=why) as refused:
        load_model(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: not a model written by this workflow")
    assert message.endswith("it was not loaded; delete it to retrain") and "\n" not in message


def test_fewer_patches_than_a_batch(caplog):
    x = blobs(5)
    with caplog.at_level(logging.INFO):
        model, history = fit(x, {**TINY, "batch_size": 100}, epochs=2, seed=0, log=logging.getLogger("test"))
    assert len(history) == 2 and all(math.isfinite(h["total"]) for h in history)
    lines = [r.getMessage() for r in caplog.records if "epoch" in r.getMessage()]
    assert len(lines) == 2 and "patches/s" in lines[0] and lines[1].startswith("epoch 2/2")


def test_a_non_finite_loss_stops_with_a_clear_error():
    x = blobs(20) * np.float32(1e20)  # squared errors overflow float32
    with pytest.raises(RuntimeError, match=r"epoch 1: .*lower the learning rate.*input patches"):
        fit(x, TINY, epochs=2, seed=0)
    bad = blobs(4)
    bad[1, 2, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fit(bad, TINY, epochs=1, seed=0)
    with pytest.raises(InputError, match="unknown"):
        fit(blobs(4), {"hiden": 3}, epochs=1, seed=0)


def test_slicing_a_batch_gives_the_full_batch_gradient(monkeypatch):
    x = torch.from_numpy(blobs(32))
    hyper = resolve_hyper(TINY, 8)
    results = []
    for activations in (1 << 30, 3 * 64 * 16):  # whole batch; 3 patches per slice
        monkeypatch.setattr(epoch_module, "CPU_SLICE_ACTIVATIONS", activations)
        generator = torch.Generator().manual_seed(0)
        model = build_model(hyper, generator)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        terms = train_epoch(model, optimizer, x, 16, generator, **loss_settings(hyper))
        results.append((model, terms))
    (a, terms_a), (b, terms_b) = results
    assert epoch_module.slice_size(b, 16, torch.device("cpu")) == 3
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.detach(), q.detach(), rtol=1e-4, atol=1e-6)
    assert terms_a["total"] == pytest.approx(terms_b["total"], rel=1e-5)


def test_the_sliced_two_stage_backward_is_the_whole_batch_gradient():
    torch.manual_seed(0)
    cases = ({}, {"rotation": False, "translation": False}, {"n_latent": 0, "rotation_prior_rad": None}, {})
    for hyper, weight in zip(cases, (1.0, 1.0, 1.0, 30.0)):  # the last: the warm-up's weighted kl_z
        hyper = resolve_hyper({**TINY, **hyper}, 8)
        model = build_model(hyper, torch.Generator().manual_seed(0)).double()
        x = torch.from_numpy(blobs(11)).double()
        noise = torch.randn(11, model.encoder.n_out, dtype=torch.float64)
        sums = batch_backward(model, x, noise, **loss_settings(hyper), n_slice=4, kl_z_weight=weight)
        sliced = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        reconstruction, posterior = model(x, noise=noise)
        terms = elbo_loss(x, reconstruction, posterior, priors_of(hyper), "gaussian")
        (terms["total"] + (weight - 1) * terms["kl_z"]).backward()
        for a, p in zip(sliced, model.parameters()):
            np.testing.assert_allclose(a, p.grad, rtol=1e-9, atol=1e-12)
        for name, value in sums.items():
            assert value.item() / 11 == pytest.approx(terms[name].item(), rel=1e-9)


def test_bf16_autocast_trains_close_to_fp32():
    x = torch.from_numpy(blobs(32))
    hyper = resolve_hyper(TINY, 8)
    out = {}
    for precision in ("fp32", "bf16"):
        generator = torch.Generator().manual_seed(0)
        model = build_model(hyper, generator)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(3):
            train_epoch(model, optimizer, x, 16, generator, **loss_settings({**hyper, "precision": precision}))
        out[precision] = evaluate(model, x, **loss_settings(hyper))["total"]
    assert out["bf16"] == pytest.approx(out["fp32"], rel=0.05)
    with pytest.raises(InputError, match="precision"):
        resolve_hyper({"precision": "fp16"}, 8)


def test_evaluate_is_reproducible_and_means_need_no_generator():
    x = blobs(20)
    hyper = resolve_hyper(TINY, 8)
    model = build_model(hyper, torch.Generator().manual_seed(0))
    loss = loss_settings(hyper)
    a = evaluate(model, x, **loss, batch_size=7, generator=torch.Generator().manual_seed(1))
    b = evaluate(model, x, **loss, batch_size=7, generator=torch.Generator().manual_seed(1))
    c = evaluate(model, x, **loss, batch_size=7, generator=torch.Generator().manual_seed(2))
    assert a == b and a != c
    means = evaluate(model, x, **loss, batch_size=7)
    assert means == evaluate(model, x, **loss, batch_size=7)
    assert means["total"] == pytest.approx(evaluate(model, x, **loss, batch_size=20)["total"], rel=1e-6)
    assert set(means) == set(TERMS)


def test_encode_reports_degrees_and_pixels():
    n = 9
    model = RVAE(n, n_latent=2, hidden=16)
    with torch.no_grad():
        model.encoder.head.weight.zero_()
        # means: theta, dx, dy, z1, z2; then log-stds
        mean = [math.pi / 2, 0.5, -0.25, 1.0, -2.0]
        log_std = [math.log(0.1), 0.0, math.log(0.5), 0.0, math.log(2.0)]
        model.encoder.head.bias.copy_(torch.tensor(mean + log_std))
    out = encode(model, np.zeros((3, n, n), np.float32), batch_size=2)
    assert out["theta_deg"] == pytest.approx([90] * 3)
    assert out["theta_std_deg"] == pytest.approx([math.degrees(0.1)] * 3)
    assert out["dx_px"] == pytest.approx([2.0] * 3)  # 0.5 grid units x (9 - 1) / 2 px
    assert out["dy_px"] == pytest.approx([-1.0] * 3)
    assert out["dx_std_px"] == pytest.approx([4.0] * 3) and out["dy_std_px"] == pytest.approx([2.0] * 3)
    np.testing.assert_allclose(out["z"], [[1, -2]] * 3)
    np.testing.assert_allclose(out["z_std"], [[1, 2]] * 3)
    assert all(v.dtype == np.float32 for v in out.values())
    plain = encode(RVAE(n, rotation=False, translation=False, hidden=8), np.zeros((2, n, n)))
    assert set(plain) == {"z", "z_std"}


def render_l(angles, n):
    """An 'L' (no rotational symmetry) turned by ``angles`` counter-clockwise as displayed."""
    grid = make_grid(n).numpy()
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    ux = cos * grid[None, :, 0] - sin * grid[None, :, 1]  # u = R(angle) c, the model's convention
    uy = sin * grid[None, :, 0] + cos * grid[None, :, 1]

    def box(x0, x1, y0, y1):
        edge = lambda v: 1 / (1 + np.exp(-v / 0.06))  # noqa: E731
        return edge(ux - x0) * edge(x1 - ux) * edge(uy - y0) * edge(y1 - uy)

    image = np.maximum(box(-0.45, -0.15, -0.6, 0.6), box(-0.45, 0.45, 0.3, 0.6))
    return image.reshape(-1, n, n).astype(np.float32)


def test_a_trained_model_turns_theta_by_90_degrees_for_np_rot90():
    n = 12
    rng = np.random.default_rng(0)
    x = render_l(rng.uniform(0, 2 * np.pi, 2000), n)
    hyper = {**PLAIN, "n_latent": 1, "translation": False, "rotation_prior_rad": None}  # theta free to take any angle
    hyper.update(hidden=64, lr=3e-3, batch_size=50)
    model, _ = fit(x, hyper, epochs=10, seed=0)  # 400 steps
    test = render_l(rng.uniform(0, 2 * np.pi, 200), n)
    theta = encode(model, test)["theta_deg"]
    turned = encode(model, np.rot90(test, 1, axes=(1, 2)).copy())["theta_deg"]
    error = (turned - theta - 90 + 180) % 360 - 180  # an L looks the same only after 360 degrees
    assert np.median(np.abs(error)) < 10
    assert np.mean(np.abs(error) < 20) > 0.8


def test_the_orientation_warm_up_weights_kl_z_for_its_epochs_only():
    hyper = resolve_hyper({"warmup_epochs": 2, "warmup_kl_z_weight": 20.0}, 8)
    assert [content_kl_weight(hyper, e) for e in (1, 2, 3)] == [20.0, 20.0, 1.0]
    assert content_kl_weight(dict(hyper, rotation=False), 1) == 1.0  # nothing to orient in a plain VAE
    schema = defaults("rvae", "hyper")  # by default the schema's warm-up
    assert content_kl_weight(resolve_hyper({}, 8), schema["warmup_epochs"]) == schema["warmup_kl_z_weight"]
    assert content_kl_weight(resolve_hyper({}, 8), schema["warmup_epochs"] + 1) == 1.0


def test_with_ring_spectra_to_draw_the_decoder_draws_z_0_during_the_warm_up():
    hyper = resolve_hyper({**TINY, "warmup_epochs": 2, "warmup_kl_z_weight": 20.0, "ring_reconstruction": 5.0}, 8)
    assert [decoder_reads_z(hyper, e) for e in (1, 2, 3)] == [False, False, True]
    assert decoder_reads_z(dict(hyper, ring_reconstruction=0.0), 1)  # the plain warm-up only weights kl_z
    assert decoder_reads_z(dict(hyper, rotation=False), 1)  # no warm-up without a rotation latent
    model = build_model(hyper, torch.Generator().manual_seed(0))
    x = torch.as_tensor(blobs(16))
    noise = torch.randn(16, model.encoder.n_out, generator=torch.Generator().manual_seed(1))
    model.ring_reconstruction = 0.0  # the pixels' gradient alone
    z_rows = slice(3, 3 + model.n_latent)  # the encoder head's rows of the z means (theta, dx, dy first)
    grads, terms = [], []
    for read_z in (True, False):
        model.zero_grad()
        terms.append(batch_backward(model, x, noise, **loss_settings(hyper), kl_z_weight=0.0, read_z=read_z))
        grads.append((model.encoder.head.weight.grad[z_rows].clone(), model.decoder.latent.weight.grad.clone()))
    # blind, the pixels send z nothing and the decoder's weights on z learn nothing...
    assert all(g.abs().sum() > 0 for g in grads[0]) and all(torch.count_nonzero(g) == 0 for g in grads[1])
    # ...and its image is the one of z = 0
    with torch.no_grad():
        draw = model.sample(*model.encoder(x), noise)
        blind = model.decoder(model.coords(draw["theta"], draw["shift"], 16), torch.zeros(16, model.n_latent))
    expected = reconstruction_loss(x, blind.view_as(x), "gaussian", hyper["noise_std"])
    assert terms[1]["reconstruction"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_warm_up_is_recorded_and_the_reported_kl_z_is_unweighted():
    x = blobs(100)
    _, history = fit(x, dict(TINY, warmup_epochs=1, warmup_kl_z_weight=100.0), epochs=2, seed=0)
    assert [h["kl_z_weight"] for h in history] == [100.0, 1.0]
    assert all(h["total"] == pytest.approx(h["reconstruction"] + h["kl_z"] + h["kl_theta"] + h["kl_shift"])
               for h in history)


def test_the_training_set_is_scaled_to_one_and_holds_the_exact_turns():
    patches = blobs(5) * 7.0
    x, scale = training_set(patches, augment_rot90=True)
    assert scale == pytest.approx(patches.max()) and x.max() == pytest.approx(1.0)
    assert x.shape == (20, 8, 8) and x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(x[5:10], np.rot90(x[:5], 1, axes=(1, 2)))
    assert training_set(patches, augment_rot90=False)[0].shape == (5, 8, 8)
    with pytest.raises(InputError, match="no image"):
        training_set(np.zeros((2, 4, 4)))


def test_the_noise_estimate_finds_the_added_noise():
    rng = np.random.default_rng(0)
    x = 0.5 + rng.normal(0, 0.03, (200, 16, 16)).astype(np.float32)  # flat patches: only noise differs
    assert estimate_noise_std(x) == pytest.approx(0.03, rel=0.15)
