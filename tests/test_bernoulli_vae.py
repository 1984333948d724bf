"""BernoulliVAE: bounds against exact enumeration, training, checkpoints."""

import math

import pytest
import torch

from vaecourse.bernoulli_vae import (
    BernoulliVAE,
    all_binary_states,
    encoder_gradient_variance,
    sample_bernoulli,
)
from vaecourse.checkpoint import load_checkpoint, save_checkpoint
from vaecourse.evaluate import elbo, iw_log_likelihood
from vaecourse.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(estimator="loo", **kwargs):
    model = BernoulliVAE(x_dim=8, z_dim=5, hidden=(6,), estimator=estimator, **kwargs)
    x = (torch.rand(10, 8) < 0.4).float()
    return model.eval(), x


def test_exact_log_likelihood_is_a_normalised_distribution():
    model, _ = _tiny()
    every_x = all_binary_states(8)  # all 256 images of 8 pixels
    total = torch.logsumexp(model.exact_log_likelihood(every_x), 0)
    assert float(total) == pytest.approx(0.0, abs=1e-5)


def test_exact_elbo_is_log_likelihood_minus_kl_to_the_posterior():
    model, x = _tiny()
    z = all_binary_states(5).unsqueeze(1)  # (S, 1, Dz)
    with torch.no_grad():
        log_joint = torch.distributions.Bernoulli(logits=model.decode(z)).log_prob(
            x
        ).sum(-1) - 5 * math.log(2)
        log_post = log_joint - torch.logsumexp(log_joint, 0)  # (S, B)
        log_q = (
            torch.distributions.Bernoulli(logits=model.encode(x)).log_prob(z).sum(-1)
        )
        kl = (log_q.exp() * (log_q - log_post)).sum(0)
        torch.testing.assert_close(
            model.exact_elbo(x), model.exact_log_likelihood(x) - kl, rtol=0, atol=1e-4
        )


def test_elbo_and_iw_agree_with_enumeration(device, dtype):
    model, x = _tiny()
    model, x = model.to(device, dtype), x.to(device, dtype)
    exact_ll = model.exact_log_likelihood(x)
    exact_elbo = model.exact_elbo(x).detach()
    mc_elbo = elbo(model, x, num_samples=20_000)  # on the CPU
    torch.testing.assert_close(mc_elbo, exact_elbo.cpu(), rtol=0, atol=0.05)
    assert bool((exact_elbo <= exact_ll + 1e-5).all())
    iw = iw_log_likelihood(model, x, num_samples=5000)
    torch.testing.assert_close(iw, exact_ll.cpu(), rtol=0, atol=0.02)
    assert bool(iw.mean() > mc_elbo.mean().cpu())


def test_training_raises_the_elbo_and_the_learned_baseline_trains(device, dtype):
    model, _ = _tiny("learned", num_samples=2)
    model = model.to(device, dtype)
    x = (torch.rand(256, 8) < torch.linspace(0.1, 0.9, 8)).to(device, dtype)
    before = float(model.exact_elbo(x).mean().detach())
    net_before = [p.detach().clone() for p in model.baseline.net.parameters()]
    train(model, x, epochs=15, batch_size=32, lr=1e-2, progress=False, device=device)
    assert float(model.exact_elbo(x).mean().detach()) > before + 0.5
    assert any(
        not torch.equal(a, b)
        for a, b in zip(net_before, model.baseline.net.parameters())
    )
    assert int(model.baseline.moving_average.steps) == 15 * 8


def test_checkpoint_round_trip_keeps_the_baseline(tmp_path):
    model, x = _tiny("moving_average", num_samples=1)
    model.train()
    model.training_loss(x)
    path = save_checkpoint(model, tmp_path / "bvae.pt")
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert float(loaded.baseline.value) == pytest.approx(float(model.baseline.value))
    torch.testing.assert_close(
        loaded.exact_log_likelihood(x), model.exact_log_likelihood(x)
    )


def test_prior_samples_are_binary_fair_coins(device, dtype):
    model = BernoulliVAE(x_dim=4, z_dim=64, hidden=(3,)).to(device, dtype)
    z = model.sample_latent(2000, generator=torch.Generator().manual_seed(1))
    assert set(z.unique().tolist()) == {0.0, 1.0}
    assert abs(float(z.mean()) - 0.5) < 0.01
    assert model.generate(3, kind="mode").shape == (3, 4)


def test_sample_bernoulli_frequencies_match_the_probabilities():
    logits = torch.tensor([[-2.0, 0.0, 1.5]])
    z = sample_bernoulli(logits, num_samples=20_000)
    torch.testing.assert_close(
        z.mean((0, 1)), torch.sigmoid(logits[0]), rtol=0, atol=0.015
    )


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="num_samples >= 2"):
        BernoulliVAE(x_dim=4, estimator="loo", num_samples=1)
    with pytest.raises(ValueError, match="estimator must be one of"):
        BernoulliVAE(x_dim=4, estimator="vimco")
    with pytest.raises(ValueError, match="enumerate"):
        BernoulliVAE(x_dim=4, z_dim=64).exact_log_likelihood(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="shape"):
        BernoulliVAE(x_dim=4, z_dim=2).log_weights(torch.zeros(2, 5))


def test_encoder_gradient_variance_is_unbiased_and_ranks_baselines():
    model, x = _tiny("none", num_samples=1)
    with torch.no_grad():
        model.decoder[-1].weight.mul_(4.0)  # make p(x | z) depend on z
    params = list(model.encoder.parameters())
    exact = torch.cat(
        [
            g.reshape(-1)
            for g in torch.autograd.grad(-model.exact_elbo(x).mean(), params)
        ]
    ).double()
    stats = {
        name: encoder_gradient_variance(model, x, name, num_samples=4, num_draws=200)
        for name in ("none", "learned", "loo")
    }
    for name, s in stats.items():
        moving = s.standard_error > 0  # a dead ReLU unit gets no gradient at all
        assert torch.equal(s.mean[~moving], exact[~moving] * 0), name
        assert (
            (s.mean - exact)[moving] / s.standard_error[moving]
        ).abs().max() < 4.5, name
    assert stats["loo"].total_variance < stats["none"].total_variance
    assert stats["learned"].total_variance < stats["none"].total_variance
    assert model.training is False
    with pytest.raises(TypeError, match="BernoulliVAE"):
        encoder_gradient_variance(torch.nn.Linear(2, 2), x, "loo")
