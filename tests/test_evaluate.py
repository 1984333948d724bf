"""ELBO and importance-weighted bounds on a model whose log p(x) is exact (probabilistic PCA)."""

import math

import pytest
import torch

from vaecourse.evaluate import elbo, iw_log_likelihood
from vaecourse.ppca import ProbabilisticPCA


@pytest.fixture
def model_and_data(device):
    model = ProbabilisticPCA(
        x_dim=5, z_dim=2, noise_scale=0.7
    )  # float64, for checks to 1e-10
    with torch.no_grad():
        model.set_q_to_posterior(blend=0.3)  # a deliberately poor q
    x = (
        torch.randn(400, 5, dtype=torch.float64)
        @ torch.randn(5, 5, dtype=torch.float64)
        * 0.5
    )
    return model.to(device), x.to(device)


def test_identity_log_px_minus_kl_equals_elbo(model_and_data):
    model, x = model_and_data
    with torch.no_grad():
        lhs = model.log_marginal(x) - model.kl_to_posterior(x)
        torch.testing.assert_close(lhs, model.elbo_closed_form(x), rtol=0, atol=1e-10)


def test_monte_carlo_elbo_agrees_with_closed_form(model_and_data):
    model, x = model_and_data
    x, K = x[:20], 5_000
    with torch.no_grad():
        log_w = model.log_weights(x, K)  # (K, B)
        se = log_w.std(0) / math.sqrt(K)
        exact = model.elbo_closed_form(x)
    estimate = elbo(model, x, num_samples=K)
    assert ((estimate - exact).abs() < 5 * se).all()


def test_elbo_below_iw_bound_below_exact_and_rising_with_k(model_and_data):
    model, x = model_and_data
    with torch.no_grad():
        exact = model.log_marginal(x).mean()
        bounds = [iw_log_likelihood(model, x, k).mean() for k in (1, 10, 100, 2000)]
    closed_elbo = model.elbo_closed_form(x).mean()
    assert closed_elbo < bounds[1] < bounds[2] < bounds[3] <= exact + 1e-3
    assert abs(bounds[3] - exact) < 0.05 * abs(
        exact - closed_elbo
    )  # the gap nearly closes


def test_exact_posterior_makes_every_bound_tight():
    model = ProbabilisticPCA(x_dim=4, z_dim=2)
    with torch.no_grad():
        # orthogonal columns make the exact posterior diagonal, so q can equal it
        q, _ = torch.linalg.qr(torch.randn(4, 2, dtype=torch.float64))
        model.W.copy_(q * torch.tensor([2.0, 0.5], dtype=torch.float64))
        model.set_q_to_posterior()
    x = torch.randn(10, 4, dtype=torch.float64)
    exact = model.log_marginal(x)
    torch.testing.assert_close(
        model.kl_to_posterior(x),
        torch.zeros(10, dtype=torch.float64),
        atol=1e-10,
        rtol=0,
    )
    torch.testing.assert_close(
        elbo(model, x, num_samples=3), exact, atol=1e-9, rtol=0
    )  # zero-variance weights
    torch.testing.assert_close(iw_log_likelihood(model, x, 7), exact, atol=1e-9, rtol=0)


def test_chunking_over_samples_gives_the_same_estimate(model_and_data):
    model, x = model_and_data
    torch.manual_seed(1)
    whole = iw_log_likelihood(model, x, 64, batch_size=64)
    torch.manual_seed(1)
    log_w = model.log_weights(x, 64).detach()
    torch.testing.assert_close(whole, torch.logsumexp(log_w, 0) - math.log(64))
    chunked = iw_log_likelihood(model, x, 64, batch_size=5, data_batch_size=7)
    assert chunked.shape == (400,) and torch.isfinite(chunked).all()


def test_bad_arguments_are_explained(model_and_data):
    model, x = model_and_data
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        iw_log_likelihood(model, x, 0)
    with pytest.raises(ValueError, match=r"shape \(batch, 5\)"):
        elbo(model, x[:, :3])
    with pytest.raises(TypeError, match="no log_weights"):
        elbo(torch.nn.Linear(5, 5), x)
