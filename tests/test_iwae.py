"""The importance-weighted objective, the doubly reparameterised gradient and active units, against truth."""

import math

import pytest
import torch

from vaecourse.estimators import grouped_gradient_variance
from vaecourse.evaluate import active_units, iw_log_likelihood
from vaecourse.gaussian_vae import GaussianVAE, iw_objective
from vaecourse.ppca import ProbabilisticPCA


def _small_vae(dtype=torch.float64, **kwargs):
    return GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), **kwargs).to(dtype)


def _binary(n, d, dtype=torch.float64):
    return torch.bernoulli(torch.full((n, d), 0.4, dtype=dtype))


def test_iw_objective_at_k1_is_the_elbo_objective(device, dtype):
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), analytic_kl=False).to(
        device, dtype
    )
    x = _binary(4, 6, dtype).to(device)
    torch.manual_seed(3)
    iw_loss, _ = iw_objective(vae, x, 1)
    iw_grads = torch.autograd.grad(iw_loss, list(vae.parameters()))
    torch.manual_seed(3)  # the same noise: the two objectives draw it in the same order
    elbo_loss, _ = vae.training_loss(x)
    elbo_grads = torch.autograd.grad(elbo_loss, list(vae.parameters()))
    tol = (
        dict(atol=1e-5, rtol=1e-5)
        if dtype == torch.float32
        else dict(atol=1e-12, rtol=1e-12)
    )
    torch.testing.assert_close(iw_loss, elbo_loss, **tol)
    for a, b in zip(iw_grads, elbo_grads):
        torch.testing.assert_close(a, b, **tol)


def test_iw_training_loss_uses_its_k():
    vae = _small_vae(iw_samples=7)
    x = _binary(3, 6)
    torch.manual_seed(1)
    loss, stats = vae.training_loss(x)
    torch.manual_seed(1)
    direct, _ = iw_objective(vae, x, 7)
    assert torch.equal(loss, direct) and stats["iw_bound"] >= stats["elbo"]


def test_iw_bound_rises_with_k_towards_the_exact_log_likelihood_of_ppca():
    model = ProbabilisticPCA(x_dim=5, z_dim=2)
    model.set_q_to_posterior(blend=0.5)  # a poor q, so the bound is loose at K = 1
    x = torch.randn(3, 5, dtype=torch.float64) * 2
    exact = model.log_marginal(x).mean().item()
    means, errors = [], []
    with torch.no_grad():
        for k in (1, 5, 50, 500):
            reps = torch.stack(
                [iw_log_likelihood(model, x, k).mean() for _ in range(400)]
            )  # (R,)
            means.append(reps.mean().item())
            errors.append(reps.std().item() / math.sqrt(len(reps)))
        closed_form = model.elbo_closed_form(x).mean().item()
    assert abs(means[0] - closed_form) < 5 * errors[0]  # K = 1 is the ELBO
    for (m0, e0), (m1, e1) in zip(zip(means, errors), zip(means[1:], errors[1:])):
        assert m1 - m0 > 3 * math.hypot(e0, e1), (means, errors)
    assert all(m < exact + 5 * e for m, e in zip(means, errors))  # a lower bound
    assert exact - means[-1] < 0.1 * (
        exact - means[0]
    )  # most of the gap closed by K = 500


@pytest.mark.parametrize("k", [1, 4])
def test_dreg_expected_encoder_gradient_equals_the_iwae_gradient(k, one_thread):
    vae = _small_vae()
    x = _binary(2, 6)
    groups = {"encoder": list(vae.encoder.parameters())}
    draws = 3000
    iwae = grouped_gradient_variance(lambda: iw_objective(vae, x, k)[0], groups, draws)[
        "encoder"
    ]
    dreg = grouped_gradient_variance(
        lambda: iw_objective(vae, x, k, dreg=True)[0], groups, draws
    )["encoder"]
    se = (iwae.standard_error**2 + dreg.standard_error**2).sqrt()
    z_scores = ((iwae.mean - dreg.mean).abs() / se)[
        se > 0
    ]  # a dead ReLU unit has no gradient
    assert float(z_scores.max()) < 5, float(z_scores.max())
    assert torch.equal(iwae.mean[se == 0], dreg.mean[se == 0])
    assert iwae.mean.norm() > 10 * se.norm() / math.sqrt(
        len(se)
    )  # the means are not just noise
    assert (
        dreg.total_variance < iwae.total_variance
    )  # and DReG is the quieter of the two


def test_dreg_leaves_the_decoder_gradient_and_the_value_unchanged():
    vae = _small_vae()
    x = _binary(3, 6)
    results = []
    for dreg in (False, True):
        torch.manual_seed(5)
        loss, _ = iw_objective(vae, x, 6, dreg=dreg)
        results.append(
            (loss, torch.autograd.grad(loss, list(vae.decoder.parameters())))
        )
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-12, rtol=0)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_dreg_model_round_trips_its_config_and_refuses_beta():
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), iw_samples=5, dreg=True)
    assert GaussianVAE(**vae.config).config == vae.config
    assert (
        "dreg" not in GaussianVAE(x_dim=6, z_dim=2, hidden=(5,)).config
    )  # old checkpoints still match
    with pytest.raises(ValueError, match="beta = 1"):
        GaussianVAE(x_dim=6, z_dim=2, dreg=True, beta=0.5)
    with pytest.raises(ValueError, match="dreg must be True or False"):
        GaussianVAE(x_dim=6, z_dim=2, dreg="yes")
    with pytest.raises(ValueError, match="num_samples"):
        iw_objective(vae, _binary(2, 6, torch.float32), 0)


def test_active_units_count_the_dimensions_that_vary_with_x():
    vae = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,))
    with torch.no_grad():
        last = vae.encoder[-1]
        last.weight[1].zero_()  # the mean of z_2 no longer depends on x
        last.weight[0].mul_(100)  # the mean of z_1 varies a lot
    x = _binary(200, 6, torch.float32)
    mu = vae.encode(x)[0].detach()
    active = active_units(vae, x)
    assert active.tolist() == (mu.var(0) > 0.01).tolist()
    assert not active[1] and active[0]
    assert active_units(vae, x, threshold=float("inf")).sum() == 0
    with pytest.raises(ValueError, match="at least 2 examples"):
        active_units(vae, x[:1])
    with pytest.raises(ValueError, match="threshold"):
        active_units(vae, x, threshold=-1)
