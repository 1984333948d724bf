"""Score-function estimators: unbiased against exact gradients, baselines cut variance, the variance tool is right."""

import pytest
import torch

from vaecourse.bernoulli_vae import BernoulliVAE
from vaecourse.densities import kl_bernoulli, log_bernoulli
from vaecourse.estimators import (
    BASELINES,
    LearnedBaseline,
    MovingAverageBaseline,
    fit_baseline,
    gaussian_surrogate,
    gradient_variance,
    leave_one_out,
    make_baseline,
    score_function_term,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_model():
    """A model small enough to enumerate: 4 binary latents, 6 pixels, 3 examples."""
    model = BernoulliVAE(
        x_dim=6,
        z_dim=4,
        hidden=(5,),
        activation="tanh",
        estimator="none",
        num_samples=1,
    )
    with (
        torch.no_grad()
    ):  # spread the logits, so that q is far from uniform and z matters to p(x | z)
        model.encoder[-1].weight.mul_(3.0)
        model.decoder[-1].weight.mul_(4.0)
    x = torch.tensor(
        [[1, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 0, 1]],
        dtype=torch.float32,
    )
    return model.eval(), x


def _exact_encoder_gradient(model, x):
    params = list(model.encoder.parameters())
    grads = torch.autograd.grad(-model.exact_elbo(x).mean(), params)
    return torch.cat([g.reshape(-1) for g in grads]).double()


def _estimate(model, x, baseline, num_samples, num_draws):
    params = list(model.encoder.parameters())
    return gradient_variance(
        lambda: model.surrogate(x, baseline, num_samples)[0], params, num_draws
    )


def _calibrated(name, model, x):
    baseline = (
        make_baseline(name, model.x_dim, hidden=(4,))
        if name == "learned"
        else make_baseline(name)
    )
    with torch.no_grad():
        z = torch.bernoulli(torch.sigmoid(model.encode(x)).expand(256, -1, -1))
        signal = (
            torch.distributions.Bernoulli(logits=model.decode(z)).log_prob(x).sum(-1)
        )  # (256, B)
    return fit_baseline(baseline, x, signal, steps=100, lr=1e-2)


@pytest.mark.parametrize("name", BASELINES)
def test_score_function_mean_is_the_exact_gradient(name):
    model, x = _tiny_model()
    exact = _exact_encoder_gradient(model, x)
    baseline = _calibrated(name, model, x)
    stats = _estimate(model, x, baseline, num_samples=2, num_draws=1000)
    z = (stats.mean - exact) / stats.standard_error
    assert z.abs().max() < 4.5, (
        f"largest deviation {float(z.abs().max()):.2f} standard errors"
    )


def test_a_constant_baseline_changes_the_variance_not_the_mean():
    model, x = _tiny_model()
    exact = _exact_encoder_gradient(model, x)
    results = {}
    for c in (0.0, -4.0):  # -4 nats is near the mean signal of 6 fair pixels
        baseline = MovingAverageBaseline()
        baseline.set_value(c)
        results[c] = _estimate(model, x, baseline.eval(), num_samples=1, num_draws=1000)
        z = (results[c].mean - exact) / results[c].standard_error
        assert z.abs().max() < 4.5
    assert results[-4.0].total_variance < 0.5 * results[0.0].total_variance


def test_leave_one_out_lowers_variance_against_none():
    model, x = _tiny_model()
    none = _estimate(model, x, make_baseline("none"), num_samples=4, num_draws=400)
    loo = _estimate(model, x, make_baseline("loo"), num_samples=4, num_draws=400)
    assert loo.total_variance < 0.3 * none.total_variance
    assert loo.snr > none.snr


def test_wrong_loss_of_the_report_has_the_wrong_mean():
    # -log p(x|z) + KL - log q(z|x), differentiated as written: its mean gradient is the KL's alone
    model, x = _tiny_model()
    exact = _exact_encoder_gradient(model, x)
    params = list(model.encoder.parameters())

    def report_loss():
        logits = model.encode(x)
        z = torch.bernoulli(torch.sigmoid(logits)).detach()
        return (
            -log_bernoulli(x, model.decode(z))
            + kl_bernoulli(logits)
            - log_bernoulli(z, logits)
        ).mean()

    stats = gradient_variance(report_loss, params, num_draws=1000)
    kl_only = torch.cat(
        [
            g.reshape(-1)
            for g in torch.autograd.grad(kl_bernoulli(model.encode(x)).mean(), params)
        ]
    )
    kl_only = kl_only.double()
    assert ((stats.mean - kl_only) / stats.standard_error).abs().max() < 4.5
    assert ((stats.mean - exact) / stats.standard_error).abs().max() > 10
    assert (
        exact - kl_only
    ).norm() > 0.2 * exact.norm()  # the reconstruction's share is not negligible


def test_leave_one_out_matches_a_loop():
    signal = torch.randn(5, 3)
    expected = torch.stack(
        [torch.cat([signal[:k], signal[k + 1 :]]).mean(0) for k in range(5)]
    )
    torch.testing.assert_close(leave_one_out(signal), expected)
    with pytest.raises(ValueError, match="K >= 2"):
        leave_one_out(torch.randn(1, 3))


def test_score_function_term_detaches_the_signal():
    signal = torch.randn(3, 2, requires_grad=True)
    log_q = torch.randn(3, 2, requires_grad=True)
    score_function_term(signal, log_q, 0.5).sum().backward()
    assert signal.grad is None
    torch.testing.assert_close(log_q.grad, signal.detach() - 0.5)
    with pytest.raises(ValueError, match="same shape"):
        score_function_term(torch.zeros(3, 2), torch.zeros(2, 3))


def test_moving_average_is_bias_corrected_and_frozen_in_eval():
    b = MovingAverageBaseline(decay=0.9)
    b(None, torch.full((2, 2), -7.0))
    assert float(b.value) == pytest.approx(-7.0)  # one update, corrected: not 0.1 * -7
    b.eval()
    b(None, torch.full((2, 2), 100.0))
    assert float(b.value) == pytest.approx(-7.0)
    with pytest.raises(ValueError, match="decay"):
        MovingAverageBaseline(decay=1.0)


def test_learned_baseline_regresses_an_input_dependent_signal():
    x = torch.randn(64, 3)
    signal = (-100.0 + 5.0 * x[:, 0]).expand(8, -1)  # (K, B): depends on x only
    b = fit_baseline(LearnedBaseline(3, hidden=(16,)), x, signal, steps=500, lr=1e-2)
    c, _ = b(x, signal)
    residual_var = float((signal - c).var())
    assert residual_var < 0.05 * float(signal.var())


def test_gaussian_reparam_and_score_agree_with_the_closed_form():
    # E_{N(mu, sigma^2)}[(z - a)^2] = (mu - a)^2 + sigma^2: d/dmu = 2 (mu - a), d/dlog_sigma = 2 sigma^2
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    log_sigma = torch.tensor([[0.0, -0.5]], requires_grad=True)
    a = torch.tensor([1.0, 2.0])
    exact = (
        torch.cat([2 * (mu - a), 2 * torch.exp(2 * log_sigma)], -1)
        .detach()
        .reshape(-1)
        .double()
    )
    results = {}
    for method, baseline in (("reparam", "none"), ("score", "none"), ("score", "loo")):
        stats = gradient_variance(
            lambda: (
                -gaussian_surrogate(
                    lambda z: -((z - a) ** 2).sum(-1),
                    mu,
                    log_sigma,
                    4,
                    method,
                    baseline,
                ).sum()
            ),
            [mu, log_sigma],
            num_draws=3000,
        )
        assert ((stats.mean - exact) / stats.standard_error).abs().max() < 4.5, (
            method,
            baseline,
        )
        results[method, baseline] = stats.total_variance
    assert (
        results["reparam", "none"] < results["score", "loo"] < results["score", "none"]
    )


def test_gradient_variance_checks_its_inputs():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="num_draws"):
        gradient_variance(lambda: w.sum(), [w], num_draws=1)
    with pytest.raises(ValueError, match="require gradients"):
        gradient_variance(lambda: w.sum(), [torch.zeros(2)], num_draws=3)
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("vimco")
