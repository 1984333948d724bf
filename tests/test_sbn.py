"""Sigmoid belief networks: enumeration against brute force and IW, bounds, and the alternating updates."""

import itertools
import math

import pytest
import torch

from vaecourse.checkpoint import load_checkpoint, save_checkpoint
from vaecourse.densities import log_bernoulli
from vaecourse.evaluate import elbo, iw_log_likelihood
from vaecourse.sbn import (
    MAX_ENUMERATION_DIM,
    AmortisedSBN,
    FittedPosterior,
    SigmoidBeliefNet,
    all_binary_states,
    mean_field_gradient,
)
from vaecourse.train import train

X_DIM, Z_DIM = 12, 4


def _tiny_sbn(hidden=(), num_examples=16):
    model = SigmoidBeliefNet(X_DIM, Z_DIM, num_examples, hidden=hidden).double()
    with torch.no_grad():
        model.prior_logits.normal_(0, 1)
        for p in model.decoder.parameters():
            p.normal_(0, 1.5)
    return model


def _data(n=16):
    return torch.bernoulli(torch.full((n, X_DIM), 0.4, dtype=torch.float64))


def _brute_force_log_px(model, x):
    """log sum_z p(z) p(x | z), one state at a time with itertools (independent of the chunked code)."""
    terms = []
    for bits in itertools.product([0.0, 1.0], repeat=model.z_dim):
        z = torch.tensor(bits, dtype=x.dtype)
        terms.append(
            log_bernoulli(z, model.prior_logits) + log_bernoulli(x, model.decode(z))
        )
    return torch.logsumexp(torch.stack(terms), dim=0)


def _exact_elbo(model, x, q_logits):
    """E_q[log p(x, z) - log q(z)] summed exactly over the 2^Dz states."""
    z = all_binary_states(model.z_dim, dtype=x.dtype)  # (S, Dz)
    log_q = log_bernoulli(z[:, None, :], q_logits)  # (S, B)
    log_joint = log_bernoulli(z, model.prior_logits)[:, None] + log_bernoulli(
        x, model.decode(z)[:, None, :]
    )
    return (log_q.exp() * (log_joint - log_q)).sum(0)  # (B,)


def test_all_binary_states_lists_every_state_once():
    z = all_binary_states(5)
    assert z.shape == (32, 5)
    assert len({tuple(row.tolist()) for row in z}) == 32
    assert torch.equal(all_binary_states(5, 7, 12), z[7:12])


@pytest.mark.parametrize("hidden", [(), (6,)])
def test_enumeration_matches_brute_force(hidden, device):
    model, x = _tiny_sbn(hidden), _data()
    with torch.no_grad():
        brute = _brute_force_log_px(model, x)
    model, x = (
        model.to(device),
        x.to(device),
    )  # float64 throughout: the check is to 1e-10
    exact = model.exact_log_likelihood(
        x, states_per_chunk=3
    )  # chunks that do not divide 2^Dz
    assert torch.allclose(exact.cpu(), brute, atol=1e-10)


def test_enumeration_sums_to_one_over_all_images():
    model = SigmoidBeliefNet(x_dim=5, z_dim=3, num_examples=1).double()
    with torch.no_grad():
        model.decoder[0].weight.normal_()
    x = all_binary_states(5, dtype=torch.float64)  # every possible image
    assert torch.logsumexp(model.exact_log_likelihood(x), 0).item() == pytest.approx(
        0.0, abs=1e-12
    )


def test_enumeration_refuses_large_latent_spaces():
    model = SigmoidBeliefNet(X_DIM, MAX_ENUMERATION_DIM + 1, num_examples=1)
    with pytest.raises(ValueError, match="z_dim <= 20"):
        model.exact_log_likelihood(torch.zeros(1, X_DIM))


def test_iw_estimate_at_large_k_matches_enumeration():
    model, x = _tiny_sbn(), _data(8)
    q_logits = torch.randn(8, Z_DIM, dtype=torch.float64)
    view = FittedPosterior(model, x, q_logits)
    with torch.no_grad():
        iw = iw_log_likelihood(view, x, num_samples=20_000)
    assert torch.allclose(iw.double(), model.exact_log_likelihood(x), atol=0.05)


def test_elbo_stays_below_exact_log_likelihood_and_mc_matches_enumeration():
    model, x = _tiny_sbn(), _data()
    q_logits = 2 * torch.randn(16, Z_DIM, dtype=torch.float64)
    exact_elbo = _exact_elbo(model, x, q_logits)
    with torch.no_grad():
        assert bool((exact_elbo <= model.exact_log_likelihood(x) + 1e-12).all())
        mc = model.log_weights_given_q(x, q_logits, num_samples=20_000).mean(0)
    assert torch.allclose(mc, exact_elbo, atol=0.1)


def test_mean_field_gradient_is_unbiased():
    model, x = _tiny_sbn(), _data(3)
    lam = torch.randn(3, Z_DIM, dtype=torch.float64, requires_grad=True)
    (exact,) = torch.autograd.grad(_exact_elbo(model, x, lam).sum(), lam)
    with torch.no_grad():
        k, reps = 8, 4000
        z = torch.bernoulli(
            torch.sigmoid(lam).expand(reps, k, 3, Z_DIM)
        )  # (R, K, B, Dz)
        f = log_bernoulli(x, model.decode(z))  # (R, K, B)
        grads = torch.stack(
            [
                mean_field_gradient(f[r], z[r], lam, model.prior_logits)
                for r in range(reps)
            ]
        )
    mean, sem = grads.mean(0), grads.std(0) / math.sqrt(reps)
    assert bool(((mean - exact).abs() <= 4 * sem + 1e-6).all())


def test_elbo_surrogate_gradient_is_unbiased_for_the_variational_logits():
    model, x = _tiny_sbn(), _data(1)
    lam = torch.randn(1, Z_DIM, dtype=torch.float64, requires_grad=True)
    (exact,) = torch.autograd.grad(_exact_elbo(model, x, lam).sum(), lam)
    reps = 20_000  # repetitions as one batch: every row is an independent estimate
    surrogate, _ = model.elbo_surrogate(
        x.expand(reps, X_DIM), lam.expand(reps, Z_DIM), num_samples=4
    )
    (per_row,) = torch.autograd.grad(surrogate.sum(), lam)  # sum of the R estimates
    draws = torch.stack(
        [
            torch.autograd.grad(model.elbo_surrogate(x, lam, 4)[0].sum(), lam)[0]
            for _ in range(200)
        ]
    )
    sem = draws.std(0) / math.sqrt(reps)
    assert bool(((per_row / reps - exact).abs() <= 4 * sem + 1e-6).all())


def test_fit_batch_moves_only_the_batch_rows_and_raises_the_elbo(device):
    torch.manual_seed(1)
    n = 64
    truth = _tiny_sbn(num_examples=n)
    with torch.no_grad():
        x = torch.bernoulli(torch.sigmoid(truth.decode(truth.sample_latent(n)))).to(
            device
        )
    model = (
        SigmoidBeliefNet(X_DIM, Z_DIM, n, inner_steps=10, inner_lr=0.2)
        .double()
        .to(device)
    )
    index = torch.arange(0, n, 2, device=device)
    table_before = model.q_logits.clone()
    exact_before = _exact_elbo(model, x[index], model.q_logits[index]).mean()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(15):
        model.fit_batch(x[index], index, optimizer)
    with torch.no_grad():
        exact_after = _exact_elbo(model, x[index], model.q_logits[index]).mean()
    assert torch.equal(
        model.q_logits[1::2], table_before[1::2]
    )  # rows outside the batch never move
    assert exact_after > exact_before + 1.0


def test_fit_posterior_raises_the_elbo_with_the_decoder_frozen():
    model, x = _tiny_sbn(), _data()
    theta = [p.detach().clone() for p in model.parameters()]
    start = model.prior_logits.detach().expand(16, Z_DIM)
    lam = model.fit_posterior(x, steps=200, num_samples=8, lr=0.1)
    with torch.no_grad():
        gain = _exact_elbo(model, x, lam) - _exact_elbo(model, x, start)
    assert all(torch.equal(a, b) for a, b in zip(theta, model.parameters()))
    assert gain.mean() > 0.5 and bool((gain > -0.05).all())


def test_posterior_view_scores_rows_by_index_and_refuses_other_images():
    model, x = _tiny_sbn(), _data()
    view = model.posterior_view(x, steps=50)
    order = torch.randperm(16)
    scores = elbo(
        view, x[order], num_samples=4000, data_batch_size=5, index=order
    )  # chunked: index travels along
    with torch.no_grad():
        exact = _exact_elbo(model, x[order], view.q_logits[order])
    torch.testing.assert_close(scores, exact, atol=0.15, rtol=0)
    with pytest.raises(
        ValueError, match="differs from the data the posterior was fitted to"
    ):
        view.log_weights(1 - x[:1], 2, index=torch.tensor([0]))
    with pytest.raises(ValueError, match="pass index="):
        elbo(view, x[:5])


def test_identical_images_keep_separate_rows_of_the_table():
    model = _tiny_sbn(num_examples=2)
    x = _data(1).expand(2, X_DIM).clone()  # the same image twice
    with torch.no_grad():
        model.q_logits.copy_(
            torch.tensor([[-30.0] * Z_DIM, [30.0] * Z_DIM])
        )  # q_0: z = 0, q_1: z = 1
    index = torch.tensor([0, 1])
    z0, z1 = (
        torch.zeros(Z_DIM, dtype=torch.float64),
        torch.ones(Z_DIM, dtype=torch.float64),
    )
    expected = torch.stack(
        [model.log_prior(z) + log_bernoulli(x[0], model.decode(z)) for z in (z0, z1)]
    )
    with torch.no_grad():
        torch.testing.assert_close(
            elbo(model, x, num_samples=2, index=index), expected, atol=1e-9, rtol=0
        )
        view = FittedPosterior(model, x, model.q_logits.clone())
        torch.testing.assert_close(
            elbo(view, x, num_samples=2, data_batch_size=1, index=index),
            expected,
            atol=1e-9,
            rtol=0,
        )


def test_mean_field_sbn_trains_and_validates_on_held_out_data():
    x = _data(64).float()
    model = SigmoidBeliefNet(X_DIM, Z_DIM, num_examples=64, inner_steps=2)
    history = train(
        model,
        x,
        epochs=2,
        batch_size=16,
        lr=0.05,
        x_valid=x[:8],
        progress=False,
        device="cpu",
    )
    assert len(history.valid["elbo"]) == 2
    with torch.no_grad():
        assert (
            history.valid["elbo"][-1]
            <= float(model.exact_log_likelihood(x[:8]).mean()) + 0.5
        )  # a lower bound


def test_amortised_sbn_trains_encoder_and_decoder_together():
    model = AmortisedSBN(X_DIM, Z_DIM, encoder_hidden=(8,)).double()
    loss, stats = model.training_loss(_data())
    loss.backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()
    )
    assert "elbo" in stats


def test_checkpoint_keeps_the_variational_table(tmp_path):
    model = SigmoidBeliefNet(X_DIM, Z_DIM, num_examples=10)
    with torch.no_grad():
        model.q_logits.normal_()
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "sbn.pt"))
    assert torch.equal(loaded.q_logits, model.q_logits)
    assert (
        model.num_parameters() == Z_DIM + Z_DIM * X_DIM + X_DIM
    )  # theta only; the table is a buffer
