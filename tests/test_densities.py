"""Densities and KL terms against torch.distributions, closed forms and Monte Carlo."""

import math

import pytest
import torch
from torch import distributions as D

from vaecourse.densities import (
    kl_bernoulli,
    kl_normal_standard,
    log_bernoulli,
    log_mean_exp,
    log_normal,
    log_standard_normal,
)


def test_log_bernoulli_matches_torch_distributions():
    logits = torch.randn(5, 7) * 3
    x = (torch.rand(5, 7) < 0.5).float()
    expected = D.Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(log_bernoulli(x, logits), expected)


def test_log_bernoulli_is_finite_for_saturated_logits():
    logits = torch.tensor([[200.0, -200.0]])
    assert torch.isfinite(log_bernoulli(torch.tensor([[0.0, 1.0]]), logits)).all()
    # the probability of the observed pixels is exp(-200) each
    torch.testing.assert_close(
        log_bernoulli(torch.tensor([[0.0, 1.0]]), logits), torch.tensor([-400.0])
    )


def test_log_bernoulli_broadcasts_samples_over_batch():
    x = (torch.rand(3, 4) < 0.5).float()
    logits = torch.randn(6, 3, 4)
    out = log_bernoulli(x, logits)
    assert out.shape == (6, 3)
    torch.testing.assert_close(out[2], log_bernoulli(x, logits[2]))


def test_log_bernoulli_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="broadcastable"):
        log_bernoulli(torch.zeros(3, 4), torch.zeros(3, 5))


def test_log_normal_matches_torch_distributions():
    z, mu, log_sigma = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3) * 0.5
    expected = D.Normal(mu, log_sigma.exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(log_normal(z, mu, log_sigma), expected)
    torch.testing.assert_close(
        log_standard_normal(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1)
    )


def test_kl_normal_standard_matches_torch_and_monte_carlo():
    mu, log_sigma = torch.randn(3, 4), torch.randn(3, 4) * 0.3
    q, p = D.Normal(mu, log_sigma.exp()), D.Normal(torch.zeros(3, 4), torch.ones(3, 4))
    analytic = kl_normal_standard(mu, log_sigma)
    torch.testing.assert_close(analytic, D.kl_divergence(q, p).sum(-1))
    # Monte Carlo: E_q[log q - log p] agrees within a few standard errors
    z = q.sample((200_000,))
    terms = log_normal(z, mu, log_sigma) - log_standard_normal(z)  # (S, 3)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(terms.shape[0])
    assert ((mc - analytic).abs() < 4 * se).all(), (mc, analytic, se)


def test_kl_bernoulli_matches_torch_and_enumeration():
    logits_q, logits_p = torch.randn(2, 5) * 2, torch.randn(2, 5)
    expected = D.kl_divergence(
        D.Bernoulli(logits=logits_q), D.Bernoulli(logits=logits_p)
    ).sum(-1)
    torch.testing.assert_close(kl_bernoulli(logits_q, logits_p), expected)
    # one latent by hand: q = sigma(l), p = 1/2
    q = torch.sigmoid(torch.tensor(1.3))
    by_hand = q * torch.log(q / 0.5) + (1 - q) * torch.log((1 - q) / 0.5)
    torch.testing.assert_close(kl_bernoulli(torch.tensor([1.3])), by_hand)


def test_kl_terms_are_non_negative():
    assert (kl_normal_standard(torch.randn(100, 3), torch.randn(100, 3)) >= 0).all()
    assert (kl_bernoulli(torch.randn(100, 3) * 5, torch.randn(100, 3)) >= -1e-6).all()


def test_log_mean_exp_is_stable_and_exact():
    a = torch.tensor([[-1000.0, -1001.0], [3.0, 4.0]])
    expected = torch.tensor(
        [
            -1000.0 + math.log((1 + math.exp(-1)) / 2),
            math.log((math.exp(3) + math.exp(4)) / 2),
        ]
    )
    torch.testing.assert_close(log_mean_exp(a, dim=1), expected)
    with pytest.raises(ValueError, match="at least one"):
        log_mean_exp(torch.zeros(0))
