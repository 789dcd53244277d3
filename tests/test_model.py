import math

import numpy as np
import pytest
import torch

from rvae_pathways.core.config import defaults
from rvae_pathways.rvae.loss import elbo_loss, kl_normal
from rvae_pathways.rvae.model import (
    HYPER,
    RVAE,
    Encoder,
    SpatialDecoder,
    make_grid,
    pixels_per_grid_unit,
    transform_coords,
)

PLAIN = {"ring_weight": 0.0, "ring_reconstruction": 0.0}  # pixels only: RVAE's defaults (the schema's) read rings
PRIORS = {"rotation_prior_rad": 0.1, "translation_prior": 0.1, "noise_std": math.sqrt(0.5)}


def test_the_model_s_keyword_defaults_are_the_schema_s():
    assert HYPER == defaults("rvae", "hyper")
    model = RVAE(9)
    assert model.n_latent == HYPER["n_latent"] and model.ring_reconstruction == HYPER["ring_reconstruction"]
    assert (model.encoder.rings is not None) == (HYPER["ring_weight"] > 0)
    assert model.decoder.coord_weight.shape[1] == HYPER["hidden"]


def test_make_grid_is_row_major_over_y_x_with_x_first():
    grid = make_grid(3)
    expected = [[-1, -1], [0, -1], [1, -1], [-1, 0], [0, 0], [1, 0], [-1, 1], [0, 1], [1, 1]]
    np.testing.assert_array_equal(grid.numpy(), np.array(expected, dtype=np.float32))
    # row i * n + j is image row i (y), column j (x): the order of patch.reshape(-1)
    grid = make_grid(4)
    image = np.arange(16).reshape(4, 4)
    i, j = 2, 1
    assert grid[i * 4 + j].tolist() == pytest.approx([-1 + j * 2 / 3, -1 + i * 2 / 3])
    assert image.reshape(-1)[i * 4 + j] == image[i, j]
    assert pixels_per_grid_unit(4) == 1.5
    with pytest.raises(ValueError):
        make_grid(1)


def test_transform_coords_rotates_counter_clockwise_in_x_y_then_shifts():
    point = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = transform_coords(point, torch.tensor([math.pi / 2]), None)
    assert out.shape == (1, 2, 2)
    np.testing.assert_allclose(out[0].numpy(), [[0, 1], [-1, 0]], atol=1e-6)  # (1,0)->(0,1), (0,1)->(-1,0)
    out = transform_coords(point, torch.tensor([0.0, math.pi]), torch.tensor([[0.5, -0.25], [0.0, 2.0]]))
    np.testing.assert_allclose(out[0].numpy(), [[1.5, -0.25], [0.5, 0.75]], atol=1e-6)
    np.testing.assert_allclose(out[1].numpy(), [[-1, 2], [0, 1]], atol=1e-6)
    # shift only, per-patch coordinates
    coords = torch.zeros(3, 4, 2)
    out = transform_coords(coords, None, torch.ones(3, 2))
    assert out.shape == (3, 4, 2) and torch.all(out == 1)


@pytest.mark.parametrize(
    "rotation,translation,conv,k", [(True, True, False, 2), (False, False, False, 3), (True, False, True, 0)]
)
def test_shapes_of_encoder_decoder_and_rvae(rotation, translation, conv, k):
    n = 9
    model = RVAE(n, n_latent=k, rotation=rotation, translation=translation, hidden=16, conv=conv, **PLAIN)
    x = torch.rand(5, n, n)
    mean, log_std = model.encoder(x)
    d = int(rotation) + 2 * int(translation) + k
    assert mean.shape == log_std.shape == (5, d)
    rec, post = model(x, generator=torch.Generator().manual_seed(0))
    assert rec.shape == (5, n, n)
    assert ("theta" in post) == rotation and ("shift" in post) == translation
    assert post["z"][0].shape == (5, k)
    if rotation:
        assert post["theta"][0].shape == (5,)
    if translation:
        assert post["shift"][0].shape == (5, 2)
    dec = SpatialDecoder(k, hidden=8, layers=3, activation="tanh")
    assert dec(torch.rand(4, 10, 2), torch.rand(4, k)).shape == (4, 10)
    assert Encoder(16, 1, True, True, hidden=8, layers=2, activation="tanh", conv=False, ring_weight=0.0).n_out == 4


def test_sampling_draws_from_the_generator_only():
    model = RVAE(8, hidden=16, **PLAIN, generator=torch.Generator().manual_seed(0))
    x = torch.rand(3, 8, 8)
    a, _ = model(x, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(123)  # the global generator must not matter
    b, _ = model(x, generator=torch.Generator().manual_seed(1))
    c, _ = model(x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="Generator"):
        model(x)  # never the global random state
    m1, post = model(x, sample=False)
    m2, _ = model(x, sample=False)
    assert torch.equal(m1, m2)
    # sample=False decodes the means
    means = model.decode(post["z"][0], post["theta"][0], post["shift"][0])
    np.testing.assert_allclose(m1.detach(), means.detach(), atol=1e-6)


def test_initial_weights_depend_on_the_generator_only():
    a = RVAE(8, hidden=16, **PLAIN, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(99)
    b = RVAE(8, hidden=16, **PLAIN, generator=torch.Generator().manual_seed(0))
    c = RVAE(8, hidden=16, **PLAIN, generator=torch.Generator().manual_seed(1))
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(p, q), name
        assert not torch.equal(p, r), name


def _decoder_model(n=9, seed=0):
    return RVAE(n, n_latent=2, hidden=32, **PLAIN, generator=torch.Generator().manual_seed(seed))


def test_decoding_at_plus_90_degrees_is_np_rot90_of_decoding_at_zero():
    model = _decoder_model()
    z = torch.tensor([[0.3, -0.7], [1.2, 0.4]])
    with torch.no_grad():
        at_zero = model.decode(z, torch.zeros(2)).numpy()
        at_90 = model.decode(z, torch.full((2,), math.pi / 2)).numpy()
        at_180 = model.decode(z, torch.full((2,), math.pi)).numpy()
    assert np.abs(at_zero - np.rot90(at_zero, 1, axes=(1, 2))).max() > 1e-3  # the drawing is not symmetric
    np.testing.assert_allclose(at_90, np.rot90(at_zero, 1, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(at_180, np.rot90(at_zero, 2, axes=(1, 2)), atol=1e-5)


def test_shift_moves_the_drawing_right_and_down_in_grid_units():
    n = 9
    model = _decoder_model(n)
    px = 1 / pixels_per_grid_unit(n)  # one pixel in grid units
    z = torch.tensor([[0.5, 0.5]])
    with torch.no_grad():
        at_zero = model.decode(z, torch.zeros(1), torch.zeros(1, 2))[0].numpy()
        right = model.decode(z, torch.zeros(1), torch.tensor([[px, 0.0]]))[0].numpy()
        down = model.decode(z, torch.zeros(1), torch.tensor([[0.0, 2 * px]]))[0].numpy()
        # rotation is about the object's centre: rotate, then shift
        turned = model.decode(z, torch.tensor([math.pi / 2]), torch.tensor([[px, 0.0]]))[0].numpy()
    np.testing.assert_allclose(right[:, 1:], at_zero[:, :-1], atol=1e-5)
    np.testing.assert_allclose(down[2:, :], at_zero[:-2, :], atol=1e-5)
    np.testing.assert_allclose(turned[:, 1:], np.rot90(at_zero)[:, :-1], atol=1e-5)


def test_the_fast_decoder_path_matches_autograd_of_the_plain_formula():
    torch.manual_seed(0)
    for layers in (1, 3):
        dec = SpatialDecoder(2, hidden=12, layers=layers, activation="tanh").double()
        coords = torch.randn(3, 7, 2, dtype=torch.float64, requires_grad=True)
        z = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(dec, (coords, z), fast_mode=True)

        def plain(c, z):
            h = torch.tanh(c @ dec.coord_weight + dec.latent(z)[:, None, :]).reshape(21, -1)
            for layer in dec.hidden:
                h = torch.tanh(layer(h))
            return dec.out(h).view(3, 7)

        inputs = [coords, z, *dec.parameters()]
        fast = torch.autograd.grad(dec(coords, z).square().sum(), inputs)
        slow = torch.autograd.grad(plain(coords, z).square().sum(), inputs)
        np.testing.assert_allclose(dec(coords, z).detach(), plain(coords, z).detach(), atol=1e-12)
        for a, b in zip(fast, slow):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_the_in_place_tanh_is_tanh_with_its_gradient():
    from rvae_pathways.rvae.kernels import tanh_

    h = torch.linspace(-12, 12, 10001, requires_grad=True)
    y = tanh_(h * 1)  # a non-leaf copy: tanh_ works in place
    np.testing.assert_allclose(y.detach(), torch.tanh(h).detach(), atol=3e-7)
    (grad,) = torch.autograd.grad(y.sum(), h)
    np.testing.assert_allclose(grad, 1 - torch.tanh(h).detach() ** 2, atol=1e-6)


def test_other_activations_and_autocast_take_the_autograd_path():
    torch.manual_seed(0)
    coords, z = torch.randn(2, 5, 2), torch.randn(2, 2)
    tanh = SpatialDecoder(2, hidden=8, layers=2, activation="tanh")
    relu = SpatialDecoder(2, hidden=8, layers=2, activation="relu")
    relu.load_state_dict(tanh.state_dict())
    assert not torch.allclose(tanh(coords, z), relu(coords, z))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = tanh(coords, z)
    assert low.dtype == torch.bfloat16
    np.testing.assert_allclose(low.float().detach(), tanh(coords, z).detach(), atol=0.05)
    with pytest.raises(ValueError, match="activation"):
        SpatialDecoder(2, hidden=8, layers=2, activation="swish")


def _posterior(theta=(0.0, 0.0), shift=((0.0, 0.0), (0.0, 0.0)), z=((0.0,), (0.0,))):
    def pair(mean, log_std):
        return torch.tensor(mean, dtype=torch.float32), torch.tensor(log_std, dtype=torch.float32)

    return {
        "theta": pair(theta[0], theta[1]),
        "shift": pair(shift[0], shift[1]),
        "z": pair(z[0], z[1]),
    }


def test_kl_is_zero_at_the_prior_and_matches_the_formula():
    assert kl_normal(torch.tensor(0.0), torch.tensor(math.log(0.1)), 0.1).item() == pytest.approx(0, abs=1e-7)
    # KL(N(1, 0.5^2) || N(0, 2^2)) = log(2 / 0.5) + (0.25 + 1) / 8 - 1/2
    expected = math.log(4) + 1.25 / 8 - 0.5
    assert kl_normal(torch.tensor(1.0), torch.tensor(math.log(0.5)), 2.0).item() == pytest.approx(expected, rel=1e-6)
    x = torch.zeros(2, 2, 2)
    at_prior = {
        "theta": (torch.zeros(2), torch.full((2,), math.log(0.1))),
        "shift": (torch.zeros(2, 2), torch.full((2, 2), math.log(0.2))),
        "z": (torch.zeros(2, 3), torch.zeros(2, 3)),
    }
    terms = elbo_loss(x, x, at_prior, {**PRIORS, "translation_prior": 0.2}, "gaussian")
    for name in ("reconstruction", "kl_z", "kl_theta", "kl_shift", "total"):
        assert terms[name].item() == pytest.approx(0, abs=1e-6), name


def test_gaussian_loss_terms_by_hand():
    x = torch.tensor([[[1.0, 0.0], [0.5, 0.25]], [[0.0, 0.0], [0.0, 1.0]]])
    rec = torch.tensor([[[0.5, 0.0], [0.5, 0.25]], [[0.0, 1.0], [0.0, 1.0]]])
    post = {
        "theta": (torch.tensor([0.1, 0.0]), torch.tensor([math.log(0.1), math.log(0.1)])),
        "shift": (torch.tensor([[0.0, 0.0], [0.2, 0.0]]), torch.full((2, 2), math.log(0.1))),
        "z": (torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [math.log(0.5)]])),
    }
    priors = {"rotation_prior_rad": 0.1, "translation_prior": 0.1, "noise_std": 0.5}
    terms = elbo_loss(x, rec, post, priors, "gaussian")
    # squared errors 0.25 (patch 0) and 1 (patch 1), / (2 * 0.25), averaged over 2 patches
    assert terms["reconstruction"].item() == pytest.approx((0.25 + 1.0) / 0.5 / 2)
    # z: patch 0 mean 1, std 1 -> 0.5; patch 1 mean 0, std 0.5 -> -log 0.5 + 0.125 - 0.5
    assert terms["kl_z"].item() == pytest.approx((0.5 + (math.log(2) + 0.125 - 0.5)) / 2, rel=1e-6)
    # theta: patch 0 mean 0.1 = one prior std -> 0.5; patch 1 at the prior -> 0
    assert terms["kl_theta"].item() == pytest.approx(0.25, rel=1e-5)
    # shift: patch 1 dx = 2 prior std -> 2
    assert terms["kl_shift"].item() == pytest.approx(1.0, rel=1e-5)
    total = sum(terms[k].item() for k in ("reconstruction", "kl_z", "kl_theta", "kl_shift"))
    assert terms["total"].item() == pytest.approx(total)
    # noise_std sqrt(1/2): a plain sum of squared errors
    assert elbo_loss(x, rec, post, PRIORS, "gaussian")["reconstruction"].item() == pytest.approx(1.25 / 2)
    # a uniform rotation prior: no KL on theta
    assert elbo_loss(x, rec, post, {**PRIORS, "rotation_prior_rad": None}, "gaussian")["kl_theta"].item() == 0


def test_bernoulli_loss_by_hand_with_clipped_targets():
    x = torch.tensor([[[1.0, 0.0], [0.5, 1.7]]])
    logits = torch.tensor([[[2.0, -1.0], [0.0, 3.0]]])
    post = {"z": (torch.zeros(1, 1), torch.zeros(1, 1))}
    terms = elbo_loss(x, logits, post, {**PRIORS, "noise_std": None}, "bernoulli")  # the noise is not read

    def bce(t, logit):
        p = 1 / (1 + math.exp(-logit))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    expected = bce(1, 2) + bce(0, -1) + bce(0.5, 0) + bce(1.0, 3)  # 1.7 clipped to 1
    assert terms["reconstruction"].item() == pytest.approx(expected, rel=1e-6)
    assert terms["kl_theta"].item() == terms["kl_shift"].item() == 0
    with pytest.raises(ValueError, match="likelihood"):
        elbo_loss(x, logits, post, PRIORS, "poisson")


def test_ring_spectra_do_not_change_when_the_patch_turns_by_90_degrees():
    from rvae_pathways.rvae.model import RingSpectrum

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((4, 15, 15)).astype(np.float32))
    rings = RingSpectrum(15, weight=24.0)  # weight 24: the plain amplitudes
    assert rings.n_features == 7 * 7  # rings of radius 1..7, harmonics 0..6
    a = rings(x)
    for k in (1, 2, 3):
        turned = torch.from_numpy(np.rot90(x.numpy(), k, axes=(1, 2)).copy())
        torch.testing.assert_close(rings(turned), a, rtol=1e-5, atol=1e-5)
    # harmonic 0 of a ring is the sum of its samples: a flat patch gives 24 x the value, nothing else
    flat = rings(torch.full((1, 15, 15), 0.5)).view(7, 7)
    torch.testing.assert_close(flat[:, 0], torch.full((7,), 12.0))
    assert flat[:, 1:].abs().max() < 1e-5
    # and they tell a three-fold site from a site whose neighbour moved
    assert not torch.allclose(a[0], a[1])


def test_an_encoder_with_ring_spectra_reads_them_beside_the_pixels():
    model = RVAE(15, n_latent=2, hidden=16, ring_weight=50.0, ring_reconstruction=0.0,
                 generator=torch.Generator().manual_seed(0))
    assert model.encoder.body[0].in_features == 15 * 15 + 49
    mean, log_std = model.encoder(torch.rand(3, 15, 15))
    assert mean.shape == log_std.shape == (3, 5)
    assert "encoder.rings.sampling" not in model.state_dict()  # derived from the patch size, not stored
