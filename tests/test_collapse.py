"""KL warm-up, free bits, the mixture prior and the rate decomposition, against truth."""

import math

import pytest
import torch

from vaecourse.checkpoint import load_or_train
from vaecourse.codes import active_units
from vaecourse.collapse import (
    aggregate_log_density,
    log_density_ratio,
    rate_decomposition,
    train_recorded,
)
from vaecourse.densities import kl_normal_standard, log_bernoulli, log_normal
from vaecourse.evaluate import iw_log_likelihood
from vaecourse.gaussian_vae import GaussianVAE, free_bits_kl
from vaecourse.learned_prior import MixturePriorVAE


def _binary(n, d, dtype=torch.float64):
    return torch.bernoulli(torch.full((n, d), 0.4, dtype=dtype))


def _mixture_vae(dtype=torch.float64, **kwargs):
    model = MixturePriorVAE(x_dim=6, z_dim=2, hidden=(5,), num_components=4, **kwargs)
    with torch.no_grad():  # components of different weights, places and shapes
        model.prior_logits.copy_(torch.tensor([0.0, 1.0, -0.5, 0.3]))
        model.prior_log_scales.copy_(0.4 * torch.randn(4, 2))
        model.prior_means.mul_(2)
    return model.to(dtype)


def test_the_mixture_prior_integrates_to_one_on_a_grid():
    model = _mixture_vae()
    edges = torch.linspace(-14, 14, 1401, dtype=torch.float64)
    z = torch.cartesian_prod(edges, edges)  # (G^2, 2)
    cell = (edges[1] - edges[0]) ** 2
    with torch.no_grad():
        mass = model.log_prior(z).exp().sum() * cell
    assert abs(mass.item() - 1) < 1e-6


def test_the_mixture_prior_is_the_explicit_sum_over_components():
    model = _mixture_vae()
    z = torch.randn(5, 3, 2, dtype=torch.float64) * 2
    weights = torch.softmax(model.prior_logits, 0)
    density = sum(
        weights[c]
        * log_normal(z, model.prior_means[c], model.prior_log_scales[c]).exp()
        for c in range(4)
    )  # (5, 3)
    torch.testing.assert_close(
        model.log_prior(z), density.log(), rtol=1e-12, atol=1e-12
    )


def test_mixture_prior_samples_have_the_mixtures_moments():
    model = _mixture_vae()
    z = model.sample_latent(200_000, generator=torch.Generator().manual_seed(0))
    weights = torch.softmax(model.prior_logits, 0).detach()
    means = model.prior_means.detach()
    mean = weights @ means  # (2,)
    second = weights @ (means**2 + (2 * model.prior_log_scales.detach()).exp())
    se = (second - mean**2).sqrt() / math.sqrt(len(z))
    assert ((z.mean(0) - mean).abs() < 4 * se).all()
    assert ((z.pow(2).mean(0) - second).abs() / second < 0.02).all()


def test_learned_prior_log_weights_agree_with_an_independent_computation():
    model = _mixture_vae()
    x = _binary(3, 6)
    torch.manual_seed(5)
    log_w = model.log_weights(x, num_samples=4)
    torch.manual_seed(5)  # the same noise, drawn as reparameterize draws it
    mu, log_sigma = model.encode(x)
    z = mu + log_sigma.exp() * torch.randn(4, 3, 2, dtype=torch.float64)
    weights = torch.softmax(model.prior_logits, 0)
    prior = sum(
        weights[c]
        * log_normal(z, model.prior_means[c], model.prior_log_scales[c]).exp()
        for c in range(4)
    )
    expected = (
        log_bernoulli(x, model.decode(z)) + prior.log() - log_normal(z, mu, log_sigma)
    )
    torch.testing.assert_close(log_w, expected, rtol=1e-10, atol=1e-10)


def test_the_mixture_training_loss_is_unbiased_for_the_elbo():
    model = _mixture_vae()
    x = _binary(2, 6)
    with torch.no_grad():
        elbo = model.log_weights(x, 100_000).mean(0).mean()
        losses = torch.stack([model.training_loss(x)[0] for _ in range(4000)])
    se = losses.std() / math.sqrt(len(losses))
    assert abs(-losses.mean() - elbo) < 4 * se + 0.01


def test_every_evaluation_works_on_the_learned_prior_model():
    model = _mixture_vae(dtype=torch.float32)
    x = _binary(5, 6, torch.float32)
    iw = iw_log_likelihood(model, x, 50)
    assert iw.shape == (5,) and torch.isfinite(iw).all()
    assert model.generate(3).shape == (3, 6)
    assert active_units(model, x).shape == (2,)


def test_kl_warmup_rises_linearly_from_zero_to_beta():
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), beta=2.0, kl_warmup=10)
    optimizer = torch.optim.SGD(vae.parameters(), lr=0.0)
    weights = []
    for _ in range(13):
        weights.append(vae.kl_weight())
        vae.fit_batch(_binary(4, 6, torch.float32), None, optimizer)
    expected = [2.0 * min(1.0, t / 10) for t in range(13)]
    assert weights == pytest.approx(expected, abs=1e-12)
    assert int(vae.state_dict()["steps_taken"]) == 13  # saved with the weights


def test_at_weight_one_and_no_free_bits_the_loss_is_the_elbo_loss():
    x = _binary(4, 6)
    plain = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,)).double()
    settings = [dict(kl_warmup=5), dict(free_bits=0.0), dict(kl_warmup=1)]
    for kwargs in settings:
        other = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,), **kwargs).double()
        other.load_state_dict(plain.state_dict(), strict=False)
        if other.kl_warmup:
            other.steps_taken.fill_(other.kl_warmup)  # the ramp is over: weight 1
        torch.manual_seed(2)
        a, _ = plain.training_loss(x)
        torch.manual_seed(2)
        b, _ = other.training_loss(x)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    fb = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,), free_bits=1e-300).double()
    fb.load_state_dict(plain.state_dict())
    torch.manual_seed(2)
    a, _ = plain.training_loss(x)
    torch.manual_seed(2)
    b, _ = fb.training_loss(x)  # the per-dimension path with a vanishing threshold
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_free_bits_stop_the_gradient_of_a_dimension_below_the_threshold():
    torch.manual_seed(0)
    vae = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,), free_bits=0.5).double()
    plain = GaussianVAE(x_dim=6, z_dim=3, hidden=(5,)).double()
    x = _binary(8, 6)
    low = 1
    with torch.no_grad():
        head = vae.encoder[-1]  # rows j give mu_j, rows Dz + j give log sigma_j
        head.weight[[low, low + 3]] *= 1e-2  # dimension 1's posteriors near the prior
        head.bias[[low, low + 3]] = 0.1
        head.weight[[0, 2]] *= 30  # the others far from it
        vae.decoder[0].weight[:, low] = (
            0.0  # the decoder ignores z_1: no gradient from it
        )
        plain.load_state_dict(vae.state_dict())
        per_dim = kl_normal_standard(*(t.unsqueeze(-1) for t in vae.encode(x))).mean(0)
    assert per_dim[low] < 0.5 < per_dim[[0, 2]].min()
    grads = {}
    for name, model in (("free bits", vae), ("plain", plain)):
        loss, _ = model.training_loss(x)
        grads[name] = torch.autograd.grad(loss, model.encoder[-1].weight)[0]  # (2Dz, H)
    rows = [low, low + 3]
    assert grads["free bits"][rows].abs().max() == 0  # exactly: no gradient at all
    assert (
        grads["plain"][rows].abs().max() > 0
    )  # without free bits the KL term pulls it
    assert grads["free bits"][[0, 2]].abs().max() > 0  # the others still learn


def test_free_bits_kl_values_and_errors():
    kl = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.0]])
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(kl.sum(1).mean().item())
    assert free_bits_kl(kl, 0.5).item() == pytest.approx(0.5 + 3.0 + 0.5)
    with pytest.raises(ValueError, match="kappa"):
        free_bits_kl(kl, -1.0)
    with pytest.raises(ValueError, match=r"\(batch, z_dim\)"):
        free_bits_kl(kl[0], 0.5)


def test_remedy_settings_are_checked_and_keyed():
    base = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,)).config
    assert "kl_warmup" not in base and "free_bits" not in base  # old checkpoints match
    warm = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), kl_warmup=7)
    assert warm.config["kl_warmup"] == 7 and GaussianVAE(**warm.config).kl_warmup == 7
    fb = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), free_bits=0.25)
    assert fb.config["free_bits"] == 0.25
    with pytest.raises(ValueError, match="kl_warmup"):
        GaussianVAE(x_dim=6, kl_warmup=-3)
    with pytest.raises(ValueError, match="free_bits"):
        GaussianVAE(x_dim=6, free_bits=-0.1)
    with pytest.raises(ValueError, match="analytic_kl"):
        GaussianVAE(x_dim=6, free_bits=0.1, analytic_kl=False)
    with pytest.raises(ValueError, match="IW bound"):
        GaussianVAE(x_dim=6, kl_warmup=10, iw_samples=5)


def test_a_warmup_model_never_loads_as_a_plain_one(tmp_path):
    def fit(model):
        return {"seconds": 0.0}

    def make(**kwargs):
        return lambda: GaussianVAE(x_dim=6, z_dim=2, hidden=(5,), **kwargs)

    _, plain = load_or_train("m", make(), fit, settings={}, directory=tmp_path)
    _, warm = load_or_train(
        "m", make(kl_warmup=4), fit, settings={}, directory=tmp_path
    )
    _, fb = load_or_train(
        "m", make(free_bits=0.5), fit, settings={}, directory=tmp_path
    )
    assert len({plain["checkpoint"], warm["checkpoint"], fb["checkpoint"]}) == 3
    model, again = load_or_train("m", make(kl_warmup=4), fit, directory=tmp_path)
    assert again["loaded"] and again["checkpoint"] == warm["checkpoint"]
    assert model.kl_warmup == 4


def test_the_aggregate_density_is_the_mean_of_the_posteriors():
    mu, log_sigma = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 3) * 0.3
    z = torch.randn(11, 3, dtype=torch.float64)
    explicit = torch.stack(
        [log_normal(z, mu[n], log_sigma[n].double()).exp() for n in range(7)]
    ).mean(0)
    torch.testing.assert_close(
        aggregate_log_density(z, mu, log_sigma.double()), explicit.log()
    )


def test_the_rate_is_the_sum_of_information_and_marginal_kl():
    torch.manual_seed(0)
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,)).double()
    x = _binary(40, 6)
    g = torch.Generator().manual_seed(1)
    parts = rate_decomposition(vae, x, num_codes=20_000, generator=g)
    total = parts["mutual_info"] + parts["marginal_kl"]
    assert abs(total - parts["rate"]) < 4 * parts["sum_se"]
    assert -4 * parts["sum_se"] < parts["mutual_info"] <= parts["log_n"]
    assert parts["marginal_kl"] > -4 * parts["sum_se"]
    mixture = _mixture_vae()
    parts = rate_decomposition(mixture, x, num_codes=20_000, generator=g)
    total = parts["mutual_info"] + parts["marginal_kl"]
    assert abs(total - parts["rate"]) < 4 * math.hypot(
        parts["sum_se"], parts["rate_se"]
    )


def test_the_density_ratio_is_zero_where_the_posteriors_are_the_prior():
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,)).double()
    with torch.no_grad():
        for p in vae.encoder[-1].parameters():
            p.zero_()  # every q(z | x) is N(0, I), the prior
    ratio = log_density_ratio(
        vae, _binary(5, 6), torch.randn(9, 2, dtype=torch.float64)
    )
    torch.testing.assert_close(ratio, torch.zeros(9, dtype=torch.float64))


def test_train_recorded_measures_before_and_after_each_segment():
    torch.manual_seed(0)
    vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,))
    x, x_valid = _binary(50, 6, torch.float32), _binary(20, 6, torch.float32)
    record = train_recorded(vae, x, x_valid, epochs=2, batch_size=10, lr=1e-2, every=2)
    assert record["step"] == [
        0,
        2,
        4,
        5,
        7,
        9,
        10,
    ]  # 5 batches per epoch, 2 per segment
    assert (
        len(record["active"]) == len(record["rate"]) == len(record["valid_elbo"]) == 7
    )
    assert record["active"][-1] == int(active_units(vae, x_valid).sum())
    assert sum(record["kl_per_dim"]) == pytest.approx(record["rate"][-1], rel=1e-5)
    with pytest.raises(ValueError, match="every"):
        train_recorded(vae, x, x_valid, epochs=1, batch_size=10, lr=1e-2, every=0)


def test_the_free_bits_check_accepts_every_form_of_the_max_and_rejects_per_image():
    from vaecourse.checks import check_free_bits_kl

    def batch_mean(kl):
        return kl.mean(0)

    right = {
        "clamp": lambda kl, k: batch_mean(kl).clamp(min=k).sum(),
        "maximum": lambda kl, k: torch.maximum(batch_mean(kl), torch.tensor(k)).sum(),
        "relu": lambda kl, k: (torch.relu(batch_mean(kl) - k) + k).sum(),
        "where": lambda kl, k: torch.where(
            batch_mean(kl) > k, batch_mean(kl), torch.full((kl.shape[1],), k)
        ).sum(),
    }
    for answer in right.values():  # their gradients differ only where the mean is kappa
        assert check_free_bits_kl(answer) is True
    assert check_free_bits_kl(lambda kl, k: kl.clamp(min=k).mean(0).sum()) is False


class _LinearEncoder:
    """q(z | x) = N(a x, s^2) on real x: a stand-in with a closed-form decomposition."""

    device = torch.device("cpu")

    def __init__(self, a, s):
        self.a, self.log_s = a, math.log(s)

    def check_data(self, x):
        return x

    def encode(self, x):
        return self.a * x, torch.full_like(x, self.log_s)


def test_the_sampled_decomposition_underestimates_information_and_overestimates_marginal():
    # x ~ N(0, 1), q(z | x) = N(a x, s^2): I_q = log(1 + a^2 / s^2) / 2, and q(z) = N(0, v)
    # with v = a^2 + s^2, so KL(q(z) || N(0, 1)) = (v - 1 - log v) / 2 in closed form
    a, s, n = 2.0, 0.1, 20  # few images: log N = 3.0 nats, the information's size
    encoder = _LinearEncoder(a, s)
    v = a**2 + s**2
    info_true = 0.5 * math.log(1 + a**2 / s**2)
    marginal_true = 0.5 * (v - 1 - math.log(v))
    g = torch.Generator().manual_seed(0)
    runs = [
        rate_decomposition(
            encoder, torch.randn(n, 1, dtype=torch.float64, generator=g), 1000, g
        )
        for _ in range(50)
    ]
    info = torch.tensor([r["mutual_info"] for r in runs])
    marginal = torch.tensor([r["marginal_kl"] for r in runs])
    rate = torch.tensor([r["rate"] for r in runs])
    rate_true = 0.5 * (v - 1 - 2 * math.log(s))  # E_x KL(N(a x, s^2) || N(0, 1))

    def se(t):
        return t.std().item() / math.sqrt(len(t))

    assert abs(rate.mean().item() - rate_true) < 4 * se(rate)  # the rate: unbiased
    assert info.max().item() <= math.log(n)  # the estimate cannot pass log N
    assert info.mean().item() < info_true - 4 * se(info)  # it is biased low
    assert marginal.mean().item() > marginal_true + 4 * se(marginal)  # and this high
