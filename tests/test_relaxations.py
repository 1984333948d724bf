"""Relaxed and straight-through estimators: the logistic law, the zero-temperature limit, the bias against enumeration."""

import itertools
import math

import pytest
import torch

from vaecourse.bernoulli_vae import BernoulliVAE
from vaecourse.checkpoint import load_checkpoint, save_checkpoint
from vaecourse.estimators import (
    gradient_bias,
    relaxed_bernoulli,
    relaxed_sample,
    straight_through,
)
from vaecourse.train import train
from vaecourse.zoo.relaxations import (
    exact_encoder_gradient,
    measure_estimator,
    temperature_schedule,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _relaxed_cdf(y: torch.Tensor, logit: float, temperature: float) -> torch.Tensor:
    """P(z <= y) = sigma(tau logit(y) - l): z <= y iff the logistic noise is below tau logit(y) - l."""
    return torch.sigmoid(temperature * torch.logit(y) - logit)


@pytest.mark.parametrize(
    "logit, temperature", [(0.0, 1.0), (1.5, 0.5), (-2.0, 2.0), (0.7, 0.2)]
)
def test_relaxed_sample_follows_the_logistic_law(logit, temperature):
    n = 20_000
    z = relaxed_bernoulli(
        torch.full((1, 1), logit, dtype=torch.float64), temperature, n
    ).reshape(-1)
    # on a fine grid rather than at the draws: a draw that rounds to exactly 0 or 1 has no logit
    y = torch.linspace(1e-4, 1 - 1e-4, 4000, dtype=torch.float64)
    empirical = (
        torch.searchsorted(z.sort().values, y, right=True) / n
    )  # fraction of draws <= y
    ks = float(
        (empirical - _relaxed_cdf(y, logit, temperature)).abs().max()
    )  # Kolmogorov-Smirnov
    assert ks < 1.63 / math.sqrt(n), (
        f"KS statistic {ks:.4f} above the 1% critical value"
    )
    shifted = float((empirical - _relaxed_cdf(y, logit + 0.1, temperature)).abs().max())
    assert shifted > 1.63 / math.sqrt(n)  # the test can tell a logit 0.1 away


def test_low_temperature_concentrates_on_the_corners():
    logits = torch.tensor([[-1.0, 0.0, 2.0]])
    near_corner = []
    for temperature in (2.0, 0.5, 0.1, 0.01):
        z = relaxed_bernoulli(logits, temperature, 20_000)
        near_corner.append(float(((z < 0.01) | (z > 0.99)).float().mean()))
        # the threshold at 1/2 is an exact Bernoulli(sigma(l)) draw at every temperature
        torch.testing.assert_close(
            (z > 0.5).float().mean((0, 1)), torch.sigmoid(logits[0]), rtol=0, atol=0.015
        )
    assert near_corner == sorted(near_corner)
    assert near_corner[-1] > 0.97 and near_corner[0] < 0.05


def test_straight_through_is_binary_forward_and_relaxed_backward():
    logits = torch.randn(4, 6, requires_grad=True)
    torch.manual_seed(3)
    z = relaxed_sample(logits, "straight_through", temperature=0.7, num_samples=5)
    torch.manual_seed(3)
    soft = relaxed_sample(logits, "relaxed", temperature=0.7, num_samples=5)
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(z, (soft > 0.5).float())  # exactly, not approximately
    weights = torch.randn(5, 4, 6)
    g_st = torch.autograd.grad((weights * z).sum(), logits)[0]
    g_soft = torch.autograd.grad((weights * soft).sum(), logits)[0]
    torch.testing.assert_close(g_st, g_soft)
    with pytest.raises(ValueError, match="same shape"):
        straight_through(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="temperature"):
        relaxed_bernoulli(logits, 0.0)
    with pytest.raises(ValueError, match="estimator"):
        relaxed_sample(logits, "gumbel", 1.0)


def _tiny_model():
    """An enumerable model: 4 binary latents, 6 pixels, 3 examples, logits spread so that z matters."""
    model = BernoulliVAE(
        x_dim=6, z_dim=4, hidden=(5,), activation="tanh", estimator="loo", num_samples=2
    )
    with torch.no_grad():
        model.encoder[-1].weight.mul_(3.0)
        model.decoder[-1].weight.mul_(4.0)
    x = torch.tensor(
        [[1, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 0, 1]],
        dtype=torch.float32,
    )
    return model.eval(), x


def test_relaxed_bias_shrinks_with_the_temperature_and_score_function_has_none():
    model, x = _tiny_model()
    exact = exact_encoder_gradient(model, x)
    hot, warm, cold = (
        measure_estimator(model, x, exact, "relaxed", t, num_draws=2000)
        for t in (1.0, 0.3, 0.05)
    )
    assert hot.distance > warm.distance + 3 * (hot.distance_se + warm.distance_se)
    assert warm.distance > warm.noise + 3 * warm.distance_se  # still biased at 0.3 ...
    assert (
        cold.distance < cold.noise + 3 * cold.distance_se
    )  # ... not measurably at 0.05: only noise is left
    assert hot.bias > 10 * hot.noise  # far beyond noise: the relaxed gradient is biased
    assert (
        cold.stats.total_variance > hot.stats.total_variance
    )  # and the price of a small bias is variance
    loo = measure_estimator(model, x, exact, "loo", num_draws=2000)
    assert loo.distance < loo.noise + 3 * loo.distance_se  # unbiased: only noise


def test_gradient_bias_measures_a_known_offset():
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    offset = torch.tensor([0.3, 0.0, -0.4])

    def biased():  # gradient w + offset + noise of standard deviation 0.2
        return (w * (w.detach() + offset + 0.2 * torch.randn(3))).sum()

    result = gradient_bias(biased, [w], w.detach(), num_draws=4000)
    assert result.bias == pytest.approx(
        float(offset.norm() / w.detach().norm()), abs=4 * result.distance_se
    )
    assert result.noise == pytest.approx(
        0.2 * math.sqrt(3 / 4000) / float(w.detach().norm()), rel=0.1
    )
    torch.testing.assert_close(
        result.stats.variance,
        torch.full((3,), 0.04, dtype=torch.float64),
        rtol=0.1,
        atol=0,
    )
    with pytest.raises(ValueError, match="num_batches"):
        gradient_bias(biased, [w], w.detach(), num_draws=10)


@pytest.mark.parametrize("estimator", ["relaxed", "straight_through"])
def test_relaxed_training_raises_the_exact_elbo_and_checkpoints(estimator, tmp_path):
    model = BernoulliVAE(
        x_dim=8,
        z_dim=5,
        hidden=(6,),
        estimator=estimator,
        num_samples=2,
        temperature=0.5,
    )
    x = (torch.rand(256, 8) < torch.linspace(0.1, 0.9, 8)).float()
    before = float(model.exact_elbo(x).mean().detach())
    train(model, x, epochs=15, batch_size=32, lr=1e-2, progress=False)
    assert float(model.exact_elbo(x).mean().detach()) > before + 0.5
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "relaxed.pt"))
    assert loaded.config == model.config and loaded.temperature == 0.5
    with pytest.raises(ValueError, match="temperature"):
        BernoulliVAE(x_dim=4, estimator=estimator, temperature=-1.0)


def test_temperature_schedule_falls_geometrically():
    taus = [temperature_schedule(e, 8) for e in range(1, 9)]
    ratios = [b / a for a, b in itertools.pairwise(taus)]
    assert (
        taus[0] == 1.0
        and taus[-1] == pytest.approx(0.25)
        and max(ratios) - min(ratios) < 1e-12
    )
    with pytest.raises(ValueError, match="epoch"):
        temperature_schedule(9, 8)
