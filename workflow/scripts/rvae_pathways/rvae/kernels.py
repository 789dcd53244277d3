"""The decoder's hot path: its activations and a hand-written autograd kernel, and fp32 casts.

The decoder evaluates B * P * hidden activations per layer (13 million for a batch of 100
32x32 patches), so its tanh and its backward pass dominate the training time on a CPU:
:class:`TanhMLP` runs its tanh layers with a backward pass written out by hand, and
:data:`ACTIVATIONS` applies the others in place. :func:`at_least_fp32` brings autocast (bf16)
outputs back to float32 for the posterior and the loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _tanh_inplace(pre: Tensor, bias: Tensor | None = None) -> Tensor:
    """``pre <- tanh(pre + bias)``, computed in place as ``2 sigmoid(2 pre + 2 bias) - 1``.

    PyTorch's CPU tanh is accurate to an ulp but costs about three times a sigmoid; the decoder
    applies it to B * P * hidden values per layer, as many operations as its matrix products.
    This form is within 2e-7 of ``torch.tanh`` and takes three passes over ``pre``.
    """
    if bias is None:
        pre.mul_(2)
    else:
        torch.add(2 * bias, pre, alpha=2, out=pre)  # 2 pre + 2 bias
    pre.sigmoid_()
    return torch.add(pre.new_tensor(-1.0), pre, alpha=2, out=pre)  # 2 s - 1


class _Tanh(torch.autograd.Function):
    """tanh in place (see :func:`_tanh_inplace`); backward ``grad * (1 - y^2)``."""

    @staticmethod
    def forward(ctx, h):
        y = _tanh_inplace(h)
        ctx.mark_dirty(h)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh_(h: Tensor) -> Tensor:
    """In-place tanh of a tensor autograd does not need elsewhere (see :class:`_Tanh`)."""
    return _Tanh.apply(h)


class TanhMLP(torch.autograd.Function):
    """The decoder's tanh layers and read-out in one step, with a hand-written backward.

    Forward, for points ``c`` (B, P, 2) and per-patch biases ``a`` (B, H)::

        y_1 = tanh(c W_c + a)                      (B * P, H)
        y_l = tanh(y_{l-1} W_l^T + b_l), l = 2..L  (B * P, H)
        out = y_L w + b_out                        (B * P,)

    Backward, from ``g = dL/d out``::

        d_L = (g w^T) * (1 - y_L^2)
        dL/dW_l = d_l^T y_{l-1},  dL/db_l = sum d_l,  d_{l-1} = (d_l W_l) * (1 - y_{l-1}^2)
        dL/dW_c = c^T d_1,  dL/da = sum over points of d_1,  dL/dc = d_1 W_c^T

    It is what autograd computes from the same formulas, but it updates ``d`` in place and
    adds biases inside the activation, so each layer costs one fresh (B * P, H) buffer instead
    of three; the decoder spends most of the training time here.
    """

    @staticmethod
    def forward(ctx, coords, per_patch, coord_weight, out_weight, out_bias, *hidden):
        batch, n_points, _ = coords.shape
        y = _tanh_inplace(coords @ coord_weight, per_patch[:, None, :]).view(batch * n_points, -1)
        ys = [y]
        for weight, bias in zip(hidden[0::2], hidden[1::2]):
            ys.append(_tanh_inplace(ys[-1] @ weight.t(), bias))
        out = torch.addmv(out_bias, ys[-1], out_weight[0])  # (B * P,)
        ctx.save_for_backward(coords, coord_weight, out_weight, *hidden[0::2], *ys)
        return out.view(batch, n_points)

    @staticmethod
    def backward(ctx, grad):
        coords, coord_weight, out_weight, *rest = ctx.saved_tensors
        n_hidden = (len(rest) - 1) // 2
        weights, ys = rest[:n_hidden], rest[n_hidden:]
        batch, n_points, _ = coords.shape
        g = grad.reshape(-1)  # (B * P,)
        grads_out = ((g @ ys[-1])[None, :], g.sum().reshape(1))
        d = g[:, None] * out_weight  # (B * P, H) = g w^T
        grads_hidden = []
        for weight, y_prev, y in zip(reversed(weights), reversed(ys[:-1]), reversed(ys[1:])):
            torch.ops.aten.tanh_backward.grad_input(d, y, grad_input=d)  # d *= 1 - y^2
            grads_hidden = [d.t() @ y_prev, d.sum(0)] + grads_hidden
            d = d @ weight
        torch.ops.aten.tanh_backward.grad_input(d, ys[0], grad_input=d)
        d = d.view(batch, n_points, -1)  # (B, P, H)
        grad_coords = d @ coord_weight.t() if ctx.needs_input_grad[0] else None
        grad_coord_weight = coords.reshape(-1, 2).t() @ d.reshape(batch * n_points, -1)
        return (grad_coords, d.sum(1), grad_coord_weight, *grads_out, *grads_hidden)


# name -> activation of the decoder's hidden layers, in place where possible (saves one large
# allocation per layer on the hot path)
ACTIVATIONS = {
    "tanh": tanh_,
    "relu": torch.relu_,
    "silu": lambda h: F.silu(h, inplace=True),
    "elu": lambda h: F.elu(h, inplace=True),
    "softplus": F.softplus,
    "gelu": F.gelu,
}


def activation_module(name: str) -> nn.Module:
    """The activation called ``name`` as a module (PyTorch's own, for the small encoder)."""
    activation_function(name)  # checks the name
    modules = {
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "silu": nn.SiLU,
        "elu": nn.ELU,
        "softplus": nn.Softplus,
        "gelu": nn.GELU,
    }
    return modules[name]()


def activation_function(name: str):
    """The activation called ``name`` (one of :data:`ACTIVATIONS`), applied in place where possible."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def at_least_fp32(t: Tensor) -> Tensor:
    """``t`` in float32 if it is in a lower precision (an autocast output), else unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t

