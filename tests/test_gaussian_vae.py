"""The Gaussian VAE: reparameterised gradients, ELBO terms and generation."""

import math

import pytest
import torch

from vaecourse.densities import kl_normal_standard
from vaecourse.gaussian_vae import GaussianVAE, reparameterize


def test_reparameterised_sample_passes_gradcheck():
    mu = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    log_sigma = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)

    def sample(mu, log_sigma):
        g = torch.Generator().manual_seed(7)  # the same noise on every call
        return reparameterize(mu, log_sigma, num_samples=4, generator=g)

    assert torch.autograd.gradcheck(sample, (mu, log_sigma))


def test_reparameterised_samples_have_the_right_moments():
    mu, log_sigma = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(0.5)]])
    z = reparameterize(mu, log_sigma, num_samples=100_000)[:, 0]  # (K, 2)
    se_mean = torch.tensor([1.0, 0.5]) / math.sqrt(z.shape[0])
    assert ((z.mean(0) - mu[0]).abs() < 4 * se_mean).all()
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5]), rtol=0.02, atol=0)


def test_elbo_terms_and_log_weights_agree(device, dtype):
    vae = GaussianVAE(x_dim=12, z_dim=3, hidden=(8,)).to(device, dtype)
    x = (torch.rand(5, 12) < 0.5).to(device, dtype)
    torch.manual_seed(3)
    t = vae.elbo_terms(x, num_samples=4)
    torch.manual_seed(3)
    log_w = vae.log_weights(x, num_samples=4)
    torch.testing.assert_close(log_w, t["log_px_z"] + t["log_pz"] - t["log_qz_x"])
    mu, log_sigma = vae.encode(x)
    torch.testing.assert_close(t["kl"], kl_normal_standard(mu, log_sigma))


def test_analytic_and_monte_carlo_kl_losses_agree_in_expectation():
    x = (torch.rand(4, 10) < 0.5).float()
    analytic = GaussianVAE(
        x_dim=10, z_dim=2, hidden=(6,), analytic_kl=True, train_samples=20_000
    )
    mc = GaussianVAE(
        x_dim=10, z_dim=2, hidden=(6,), analytic_kl=False, train_samples=20_000
    )
    mc.load_state_dict(analytic.state_dict())
    with torch.no_grad():
        a, _ = analytic.training_loss(x)
        m, _ = mc.training_loss(x)
    assert abs(float(a - m)) < 0.05


def test_beta_weights_only_the_kl_term():
    x = (torch.rand(6, 10) < 0.5).float()
    vae = GaussianVAE(x_dim=10, z_dim=2, hidden=(6,))
    vae2 = GaussianVAE(x_dim=10, z_dim=2, hidden=(6,), beta=3.0)
    vae2.load_state_dict(vae.state_dict())
    torch.manual_seed(0)
    loss1, s1 = vae.training_loss(x)
    torch.manual_seed(0)
    loss3, s3 = vae2.training_loss(x)
    torch.testing.assert_close(loss3 - loss1, 2.0 * s1["kl"])
    torch.testing.assert_close(
        s1["elbo"], s3["elbo"]
    )  # the reported ELBO is always beta = 1


def test_iw_training_bound_lies_above_the_elbo():
    vae = GaussianVAE(x_dim=10, z_dim=2, hidden=(6,), iw_samples=50)
    x = (torch.rand(30, 10) < 0.5).float()
    with torch.no_grad():
        loss, stats = vae.training_loss(x)
    assert stats["iw_bound"] > stats["elbo"]
    with pytest.raises(ValueError, match="beta = 1"):
        GaussianVAE(x_dim=10, z_dim=2, iw_samples=5, beta=0.5)


def test_generation_returns_valid_images(device, dtype):
    vae = GaussianVAE(x_dim=12, z_dim=3, hidden=(8,)).to(device, dtype)
    g = torch.Generator().manual_seed(0)
    means = vae.generate(7, kind="mean", generator=g)
    modes = vae.generate(7, kind="mode")
    samples = vae.generate(7, kind="sample")
    assert means.shape == (7, 12) and ((means > 0) & (means < 1)).all()
    assert set(modes.unique().tolist()) <= {0.0, 1.0}
    assert set(samples.unique().tolist()) <= {0.0, 1.0}
    # the mode is the rounded mean
    z = vae.sample_latent(5)
    torch.testing.assert_close(vae.decode_mode(z), (vae.decode_mean(z) > 0.5).to(dtype))
    with pytest.raises(ValueError, match="kind must be"):
        vae.generate(3, kind="median")


def test_wrong_input_shapes_are_explained():
    vae = GaussianVAE(x_dim=12, z_dim=3, hidden=(8,))
    with pytest.raises(ValueError, match=r"shape \(batch, 12\)"):
        vae.encode(torch.zeros(2, 13))
    with pytest.raises(ValueError, match="last dimension 3"):
        vae.decode(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        vae.encode(torch.zeros(2, 12, dtype=torch.long))
