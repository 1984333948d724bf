"""Integration over a 2-D latent plane against exact marginals: pPCA, a mixture, a Bernoulli decoder."""

import math

import pytest
import torch

from vaecourse.densities import log_bernoulli, log_standard_normal
from vaecourse.ppca import ProbabilisticPCA
from vaecourse.quadrature import bernoulli_log_joint, grid, log_marginal_2d

BOX = ((-8.0, -8.0), (8.0, 8.0))


def _ppca(noise_scale):
    model = ProbabilisticPCA(6, 2, noise_scale=noise_scale)
    z = torch.randn(7, 2, dtype=torch.float64)
    x = (
        z @ model.W.T + model.b + noise_scale * torch.randn(7, 6, dtype=torch.float64)
    ).detach()

    def log_joint(x, z):  # (S, B)
        return model.log_joint(x, z[:, None, :].expand(-1, len(x), -1)).detach()

    return model, x, log_joint


@pytest.mark.parametrize("noise_scale", [1.0, 0.2, 0.05])
def test_ppca_integral_matches_exact_marginal(noise_scale):
    """pPCA with a 2-D latent: the integral equals N(x; b, WW^T + s^2 I) to near machine precision."""
    model, x, log_joint = _ppca(noise_scale)
    result = log_marginal_2d(log_joint, x, BOX, coarse=64, fine=48)
    exact = model.log_marginal(x).detach()
    assert torch.allclose(result["log_px"], exact, atol=1e-9, rtol=0)
    assert torch.allclose(result["half"], exact, atol=1e-5, rtol=0)


def test_bimodal_integrand_keeps_both_modes():
    """An equal mixture of two Gaussians far apart integrates to 1 (log 0), not to 1/2."""
    centres = torch.tensor([[-5.0, 3.0], [4.0, -2.0]], dtype=torch.float64)

    def log_joint(x, z):
        parts = [
            log_standard_normal((z - c) / 0.4) - 2 * math.log(0.4) for c in centres
        ]
        return (torch.logsumexp(torch.stack(parts), 0) - math.log(2))[:, None].expand(
            -1, len(x)
        )

    result = log_marginal_2d(
        log_joint, torch.zeros(1, 3, dtype=torch.float64), BOX, coarse=128, fine=48
    )
    assert abs(result["log_px"].item()) < 1e-6


def test_bernoulli_log_joint_matches_log_bernoulli():
    """The matrix-product form equals the prior plus log_bernoulli, pair by pair."""
    weight = torch.randn(10, 2, dtype=torch.float64)

    def decode(z):
        return z @ weight.T

    x = torch.bernoulli(torch.full((3, 10), 0.5, dtype=torch.float64))
    z = torch.randn(5, 2, dtype=torch.float64)
    got = bernoulli_log_joint(decode, log_standard_normal)(x, z)  # (S, B)
    expected = log_bernoulli(x, decode(z)[:, None, :]) + log_standard_normal(z)[:, None]
    assert torch.allclose(got, expected, atol=1e-12)


def test_grid_covers_the_box():
    points, area = grid(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 4.0]), 8)
    assert points.shape == (64, 2) and math.isclose(area * 64, 8.0)
    assert points[:, 0].min() > -1 and points[:, 1].max() < 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"box": ((1.0, 1.0), (0.0, 2.0))}, "lo < hi"),
        ({"fine": 7}, "even integer"),
        ({"levels": 0}, "levels"),
        ({"threshold": -1.0}, "threshold"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    _, x, log_joint = _ppca(1.0)
    with pytest.raises(ValueError, match=message):
        log_marginal_2d(log_joint, x, **{"box": BOX, **kwargs})


def test_refinement_integrates_again_only_where_the_check_fails():
    """On pPCA with a narrow posterior a coarse ``fine`` fails the check; the refined images then
    agree with the exact marginal better than before, and images that passed are left alone."""
    from vaecourse.comparison import REFINE_ABOVE, integrate_refined

    torch.manual_seed(0)
    model, x, log_joint = _ppca(0.05)
    plain = log_marginal_2d(log_joint, x, BOX, fine=8)
    result = integrate_refined(log_joint, x, BOX, fine=8)
    exact = model.log_marginal(x).detach()
    failed = (plain["half"] - plain["log_px"]).abs() > REFINE_ABOVE
    assert failed.any(), "the test needs an image that a grid of 8 cannot resolve"
    assert torch.equal(result["refined"], failed.nonzero()[:, 0])
    kept = ~failed
    assert torch.equal(result["log_px"][kept], plain["log_px"][kept])
    before = (plain["log_px"][failed] - exact[failed]).abs()
    after = (result["log_px"][failed] - exact[failed]).abs()
    assert (after < before).all()
