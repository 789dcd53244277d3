"""Training throughput of the reference rVAE, fp32 and bf16 autocast, on the CPU (and CUDA).

The reference configuration: 32x32 patches, 2 latents plus rotation and translation, encoder and
decoder with 2 hidden layers of 128, tanh, batch 100, on 12,000 synthetic patches. Each run
trains for ``--epochs`` epochs from the same seed; the rate printed is the last epoch's (the
first pays for warm-up), the loss the last epoch's mean. Prints numbers, never pass/fail.

On a CPU without bf16 arithmetic (no AVX512-BF16 or AMX) PyTorch emulates bf16 matrix products
and is many times slower than fp32, so there the bf16 run (and an fp32 run for its loss
comparison) uses the first ``--bf16-patches`` patches; the lines say so.

On a GPU it also runs a large configuration: bf16 autocast with ``--gpu-batch`` patches per batch
(the patch array lives on the device for the whole run; see ``train.fit``).

Usage: ``python bench/train_throughput.py [--patches 12000] [--epochs 2] [--threads N] [--gpu-batch 2000]
[--devices cpu,cuda]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from rvae_pathways.rvae.model import make_grid  # noqa: E402
from rvae_pathways.rvae.epoch import slice_size  # noqa: E402
from rvae_pathways.rvae.train import build_model, fit, resolve_hyper  # noqa: E402

REFERENCE = {
    "n_latent": 2,
    "rotation": True,
    "translation": True,
    "hidden": 128,
    "layers": 2,
    "activation": "tanh",
    "batch_size": 100,
    # the plain model, one start, no warm-up, sigma sqrt(1/2) (fit's defaults are the workflow's: ring spectra
    # read and drawn, a warm-up, three starts, the noise estimated)
    "ring_weight": 0.0,
    "ring_reconstruction": 0.0,
    "warmup_epochs": 0,
    "restarts": 1,
    "noise_std": 0.5**0.5,
}


def synthetic_patches(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Atom-like patches in [0, 1]: a round or an elongated Gaussian, randomly placed and turned.

    Half the patches hold a round spot, half a dimer-like elongated one (widths 0.35 and 0.12
    grid units); centres within +-0.15 grid units (2.3 px), any angle; Gaussian noise of 0.03.
    """
    rng = np.random.default_rng(seed)
    grid = make_grid(size).numpy()  # (P, 2)
    angle = rng.uniform(0, np.pi, (n, 1))
    centre = rng.uniform(-0.15, 0.15, (n, 1, 2))
    long_width = np.where(rng.random((n, 1)) < 0.5, 0.15, 0.35)
    u = grid[None] - centre
    along = np.cos(angle) * u[..., 0] + np.sin(angle) * u[..., 1]
    across = -np.sin(angle) * u[..., 0] + np.cos(angle) * u[..., 1]
    image = np.exp(-(along**2) / (2 * long_width**2) - across**2 / (2 * 0.12**2))
    image = image + rng.normal(0, 0.03, image.shape)
    return np.clip(image, 0, 1).reshape(n, size, size).astype(np.float32)


def cpuinfo_field(name: str) -> str:
    """The first ``name : value`` line's value in /proc/cpuinfo ("" where absent or unreadable)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def matmul_flops_per_patch(size: int = 32) -> float:
    """Matrix-product FLOPs of one training step per patch of the reference model, forward and backward.

    Forward: the encoder's dense layers (pixels -> hidden -> ... -> 2 x outputs) once per patch;
    the decoder's layers once per *pixel* (coordinates -> hidden, hidden -> hidden, hidden -> 1;
    the latent part of the first layer once per patch). Backward costs two products per forward
    product (input gradient and weight gradient), so the total is 3 x forward. Element-wise work
    (tanh, the loss) is left out: this is the bound the matrix products set.
    """
    h, layers, pixels = REFERENCE["hidden"], REFERENCE["layers"], size * size
    n_out = REFERENCE["n_latent"] + int(REFERENCE["rotation"]) + 2 * int(REFERENCE["translation"])
    encoder = pixels * h + (layers - 1) * h * h + h * 2 * n_out
    decoder = pixels * (2 * h + (layers - 1) * h * h + h) + REFERENCE["n_latent"] * h
    return 3 * 2 * (encoder + decoder)


def matmul_rate(device: str, rows: int, hidden: int = 128, repeats: int = 20) -> float:
    """GFLOP/s of the decoder's three products at its slice shape (``rows`` = pixels in a slice):
    forward ``(rows, H) @ (H, H)``, backward ``(H, rows) @ (rows, H)`` and ``(rows, H) @ (H, H)``."""
    a = torch.randn(rows, hidden, device=device)
    w = torch.randn(hidden, hidden, device=device)
    products = (lambda: a @ w, lambda: a.t() @ a, lambda: a @ w.t())
    for f in products:
        f()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        for f in products:
            f()
    if device == "cuda":
        torch.cuda.synchronize()
    return 3 * repeats * 2 * rows * hidden * hidden / (time.perf_counter() - t0) / 1e9


def run(x: np.ndarray, precision: str, epochs: int, device: str, batch_size: int | None = None) -> dict:
    t0 = time.perf_counter()
    hyper = {**REFERENCE, "precision": precision, "batch_size": batch_size or REFERENCE["batch_size"]}
    _, history = fit(x, hyper, epochs=epochs, seed=0, device=device)
    return {"rate": history[-1]["patches_per_s"], "loss": history[-1]["total"], "wall": time.perf_counter() - t0}


def report(device: str, precision: str, n: int, epochs: int, result: dict, note: str = "") -> None:
    print(
        f"{device} {precision}: {n} patches x {epochs} epochs: epoch {epochs} {result['rate']:.0f} patches/s, "
        f"final loss {result['loss']:.4f}, wall {result['wall']:.1f} s{note}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=12_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--bf16-patches", type=int, default=600, help="bf16 subset on CPUs without bf16 arithmetic")
    parser.add_argument("--gpu-batch", type=int, default=2000, help="batch size of the large GPU configuration")
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated: cpu, cuda (cuda only where available)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    flags = set(cpuinfo_field("flags").split())
    native_bf16 = sorted(flags & {"avx512_bf16", "amx_bf16"})
    threads = torch.get_num_threads()
    machine = cpuinfo_field("model name") or "unknown CPU"
    print(f"machine: {machine}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} threads")
    print(f"cpu bf16 arithmetic: {', '.join(native_bf16) if native_bf16 else 'none (no avx512_bf16, no amx_bf16)'}")
    print(f"config: 32x32 patches, n_latent 2 + rotation + translation, 2 x 128 tanh, batch 100, {args.epochs} epochs")
    x = synthetic_patches(args.patches)
    print(f"data: {len(x)} synthetic patches, mean {x.mean():.3f}, max {x.max():.3f}", flush=True)

    asked = args.devices.split(",")
    devices = [d for d in ("cpu", "cuda") if d in asked and (d == "cpu" or torch.cuda.is_available())]
    for device in devices:
        if device == "cuda":
            print(f"gpu: {torch.cuda.get_device_name()}", flush=True)
        fp32 = run(x, "fp32", args.epochs, device)
        report(device, "fp32", len(x), args.epochs, fp32)
        rows = slice_size(build_model(resolve_hyper(REFERENCE, 32)), REFERENCE["batch_size"],
                          torch.device(device)) * 32 * 32
        flops, rate = matmul_flops_per_patch(), matmul_rate(device, rows)
        bound = rate * 1e9 / flops
        print(f"{device} fp32 bound: {flops / 1e6:.1f} MFLOP of matrix products per patch (forward + backward); "
              f"this machine's products at the decoder's shape ({rows} x 128 x 128) run at {rate:.0f} GFLOP/s "
              f"-> at most {bound:.0f} patches/s; fp32 training reaches {100 * fp32['rate'] / bound:.0f} % of it "
              f"({fp32['rate'] * flops / 1e9:.0f} GFLOP/s)", flush=True)
        if device == "cuda" or native_bf16:
            bf16 = run(x, "bf16", args.epochs, device)
            report(device, "bf16", len(x), args.epochs, bf16)
            reference = fp32
        else:
            subset = x[: args.bf16_patches]
            note = " (subset: this CPU emulates bf16)"
            bf16 = run(subset, "bf16", args.epochs, device)
            report(device, "bf16", len(subset), args.epochs, bf16, note)
            reference = run(subset, "fp32", args.epochs, device)
            report(device, "fp32", len(subset), args.epochs, reference, " (same subset, for the loss comparison)")
        change = 100 * (bf16["loss"] - reference["loss"]) / abs(reference["loss"])
        print(f"{device} bf16 final loss vs fp32 on the same data and epochs: {change:+.2f} %")
        print(f"{device} bf16 / fp32 patches/s: {bf16['rate'] / fp32['rate']:.2f}", flush=True)
        if device == "cuda":  # the large configuration: bf16 autocast, large batches, data on the device
            large = run(x, "bf16", args.epochs, device, batch_size=args.gpu_batch)
            report(device, f"bf16 batch {args.gpu_batch}", len(x), args.epochs, large)


if __name__ == "__main__":
    main()
