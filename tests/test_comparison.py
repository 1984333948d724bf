"""Scoring on shared images: paired standard errors, and IW estimates against the integral over the plane."""

import math

import pytest
import torch

from vaecourse.comparison import markdown_table, paired_difference, score_model
from vaecourse.gaussian_vae import GaussianVAE


def test_paired_standard_error_is_that_of_the_differences():
    a = torch.randn(400, dtype=torch.float64) * 10
    b = (
        a - 1 + 0.1 * torch.randn(400, dtype=torch.float64)
    )  # strongly correlated with a
    mean, se = paired_difference(a, b)
    d = (a - b).numpy()
    assert math.isclose(mean, d.mean(), rel_tol=1e-12)
    assert math.isclose(se, d.std(ddof=1) / math.sqrt(len(d)), rel_tol=1e-12)
    unpaired = math.sqrt((a.var() + b.var()).item() / len(a))
    assert se < unpaired / 10  # pairing removes the spread the two scores share


def test_paired_difference_refuses_different_images():
    with pytest.raises(ValueError, match="same images"):
        paired_difference(torch.zeros(3), torch.zeros(4))


def test_iw_estimate_approaches_the_integral_from_below():
    """On a small 2-D VAE, K = 4000 importance samples land within a few hundredths of a nat."""
    model = GaussianVAE(x_dim=8, z_dim=2, hidden=(16,))
    x = torch.bernoulli(torch.full((30, 8), 0.4))
    result = score_model(model, x, num_samples=4000, fit={}, num_integrated=30)
    integral, iw = result["integral"]["log_px"].float(), result["iw"]
    assert (
        result["integral"]["half"] - result["integral"]["log_px"]
    ).abs().max() < 1e-3
    bias, se = paired_difference(integral, iw)
    assert -3 * se - 1e-3 < bias < 0.05
    assert result["exact"] is None and result["elbo"].shape == (30,)
    assert (result["elbo"].mean() <= integral.mean()).item()


def test_markdown_table_rows_must_match_the_header():
    with pytest.raises(ValueError, match="3 cells"):
        markdown_table(["a", "b", "c"], [["x", "1"]])
