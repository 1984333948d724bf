"""The autoencoder with a Gaussian mixture: the mixture against scikit-learn, sampling, and IW scoring."""

import math

import numpy as np
import pytest
import torch

from vaecourse.ae_gmm import AutoencoderGMM, gmm_log_density
from vaecourse.autoencoder import Autoencoder
from vaecourse.checkpoint import load_checkpoint, save_checkpoint
from vaecourse.densities import log_bernoulli
from vaecourse.evaluate import iw_log_likelihood

X_DIM = 10


def _codes(n=600):
    """Three elongated 2-D clusters."""
    centres = torch.tensor([[-3.0, 0.0], [2.0, 2.0], [1.0, -3.0]])
    which = torch.randint(0, 3, (n,))
    return centres[which] + torch.randn(n, 2) * torch.tensor([1.0, 0.3])


def _fitted_model(num_components=3):
    model = AutoencoderGMM(X_DIM, 2, hidden=(8,), num_components=num_components)
    gmm = model.fit_gmm(_codes())
    return model, gmm


def test_gmm_log_density_matches_sklearn():
    model, gmm = _fitted_model()
    z = torch.randn(50, 2) * 3
    ours = model.log_prior(z.double().float())
    theirs = torch.from_numpy(gmm.score_samples(z.double().numpy())).float()
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_gmm_log_density_integrates_to_one():
    model, _ = _fitted_model()
    grid = torch.linspace(-12, 12, 601)
    z = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1)  # (601, 601, 2)
    cell = (grid[1] - grid[0]) ** 2
    assert (model.log_prior(z).exp().sum() * cell).item() == pytest.approx(
        1.0, abs=1e-3
    )


def test_gmm_log_density_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="expected z"):
        gmm_log_density(
            torch.zeros(4, 3),
            torch.zeros(2),
            torch.zeros(2, 2),
            torch.eye(2).repeat(2, 1, 1),
        )


def test_sampling_follows_the_mixture():
    model, gmm = _fitted_model()
    c, z = model.sample_components(20_000, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(c, minlength=3).float() / 20_000
    assert torch.allclose(freq, torch.from_numpy(gmm.weights_).float(), atol=0.015)
    for k in range(3):
        zk = z[c == k]
        assert torch.allclose(
            zk.mean(0), torch.from_numpy(gmm.means_[k]).float(), atol=0.05
        )
        assert torch.allclose(
            torch.cov(zk.T), torch.from_numpy(gmm.covariances_[k]).float(), atol=0.08
        )


@pytest.mark.parametrize("kind", ["mean", "mode", "sample"])
def test_generated_images_are_valid(kind):
    model, _ = _fitted_model()
    images = model.generate(7, kind=kind)
    assert images.shape == (7, X_DIM)
    assert bool(((images >= 0) & (images <= 1)).all())
    if kind != "mean":
        assert bool(((images == 0) | (images == 1)).all())


def test_iw_estimate_is_finite_and_improves_with_k():
    model, _ = _fitted_model()
    x = torch.bernoulli(torch.full((40, X_DIM), 0.3))
    model.proposal_scale.fill_(0.5)
    low, high = iw_log_likelihood(model, x, 1), iw_log_likelihood(model, x, 500)
    assert bool(torch.isfinite(low).all() and torch.isfinite(high).all())
    assert high.mean() > low.mean()


def test_iw_estimate_matches_quadrature_over_the_code_plane(device, dtype):
    model, _ = _fitted_model()
    model = model.to(device, dtype)
    x = torch.bernoulli(torch.full((4, X_DIM), 0.3)).to(device, dtype)
    grid = torch.linspace(-10, 10, 801, dtype=dtype, device=device)
    z = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(
        -1, 1, 2
    )  # (G, 1, 2)
    with torch.no_grad():
        log_joint = model.log_prior(z) + log_bernoulli(x, model.decode(z))  # (G, B)
    exact = torch.logsumexp(log_joint, 0) + 2 * math.log(
        grid[1] - grid[0]
    )  # log of a Riemann sum
    exact = exact.cpu()
    model.proposal_scale.fill_(
        3.0
    )  # wide enough to cover the mixture: light-tailed weights
    estimate = iw_log_likelihood(model, x, 100_000)
    assert torch.allclose(estimate, exact, atol=0.05)


def test_tune_proposal_scale_keeps_the_best_scale():
    model, _ = _fitted_model()
    x = torch.bernoulli(torch.full((20, X_DIM), 0.3))
    results = model.tune_proposal_scale(x, [0.01, 1.0], num_samples=50)
    assert model.proposal_scale.item() == pytest.approx(max(results, key=results.get))
    assert (
        results[1.0] > results[0.01]
    )  # a narrow proposal around a poor code misses the prior's mass


def test_from_autoencoder_copies_weights_and_checkpoint_keeps_the_mixture(tmp_path):
    ae = Autoencoder(X_DIM, 2, hidden=(8,))
    model = AutoencoderGMM.from_autoencoder(ae, num_components=3)
    x = torch.rand(5, X_DIM)
    assert torch.equal(model.encode(x), ae.encode(x))
    model.fit_gmm(_codes())
    model.proposal_scale.fill_(0.3)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "ae_gmm.pt"))
    for name in ("gmm_log_weights", "gmm_means", "gmm_scale_tril", "proposal_scale"):
        assert torch.equal(getattr(loaded, name), getattr(model, name))
    assert np.isclose(torch.exp(loaded.gmm_log_weights).sum().item(), 1.0)
