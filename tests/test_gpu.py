"""Training and encoding on a CUDA device agree with the CPU (skipped where there is no GPU).

These run on the lent GPU machine (see README "Performance"); CI has no GPU and skips them.
"""

import numpy as np
import pytest
import torch

from rvae_pathways.rvae.encode import encode
from rvae_pathways.rvae.train import fit

from test_train import TINY, blobs

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def max_weight_difference(a, b):
    return max(float((x.cpu() - y.cpu()).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@cuda
def test_cuda_training_follows_the_cpu_run_from_one_seed():
    x = blobs(200)
    cpu_model, cpu_history = fit(x, TINY, epochs=3, seed=0, device="cpu")
    gpu_model, gpu_history = fit(x, TINY, epochs=3, seed=0, device="cuda")
    again, again_history = fit(x, TINY, epochs=3, seed=0, device="cuda")
    print(
        f"max |w_cuda - w_cpu| {max_weight_difference(cpu_model, gpu_model):.2e}, "
        f"max |w_cuda - w_cuda'| {max_weight_difference(gpu_model, again):.2e}, "
        f"final loss cpu {cpu_history[-1]['total']:.6f} cuda {gpu_history[-1]['total']:.6f}"
    )
    # the same initial weights, shuffles and noise (drawn on the CPU generator), so the runs
    # differ only by floating-point summation order
    assert gpu_history[-1]["total"] == pytest.approx(cpu_history[-1]["total"], rel=1e-3)
    assert max_weight_difference(cpu_model, gpu_model) < 1e-2
    assert again_history[-1]["total"] == pytest.approx(gpu_history[-1]["total"], rel=1e-5)


@cuda
def test_cuda_encoding_matches_the_cpu_encoding():
    x = blobs(300)
    model, _ = fit(x, TINY, epochs=2, seed=0, device="cpu")
    on_cpu = encode(model, x)
    on_gpu = encode(model.to("cuda"), x)
    for key, value in on_cpu.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            np.testing.assert_allclose(on_gpu[key], value, atol=1e-4, rtol=1e-4, err_msg=key)
