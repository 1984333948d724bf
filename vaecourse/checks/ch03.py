"""Checks for the exercises of chapter 3 (Gaussian latents and the reparameterisation trick)."""

from __future__ import annotations

import math

import torch

from ..densities import kl_normal_standard, log_bernoulli
from ..gaussian_vae import GaussianVAE
from ._verdict import (
    Case,
    Failed,
    call,
    compare,
    expect_tensor,
    gen,
    run_check,
    verdict,
)

__all__ = [
    "check_kl_diag_gaussian",
    "check_reparameterized_sample",
    "check_elbo_single_sample",
    "check_train_beta_vae",
]


def check_kl_diag_gaussian(fn) -> bool:
    """Check ``fn(mu, log_sigma)``: :math:`\\mathrm{KL}(\\mathcal{N}(\\mu, \\sigma^2) \\| \\mathcal{N}(0, I))` per row,
    values and gradients, against :func:`vaecourse.densities.kl_normal_standard`.

    >>> check_kl_diag_gaussian(kl_normal_standard)
    ✓ kl_diag_gaussian: correct on 3 inputs, gradients included
    True
    """
    g = gen(3)
    cases = [
        Case(
            "a batch of 20-D Gaussians",
            (
                torch.randn(8, 20, generator=g).requires_grad_(),
                (0.5 * torch.randn(8, 20, generator=g)).requires_grad_(),
            ),
        ),
        Case(
            "q equal to the prior (KL = 0)",
            (
                torch.zeros(2, 3, requires_grad=True),
                torch.zeros(2, 3, requires_grad=True),
            ),
        ),
        Case(
            "very small and very large scales",
            (
                torch.randn(3, 2, generator=g, dtype=torch.float64).requires_grad_(),
                torch.tensor([[-6.0, 3.0]] * 3, dtype=torch.float64).requires_grad_(),
            ),
        ),
    ]
    return run_check(
        "kl_diag_gaussian",
        fn,
        kl_normal_standard,
        cases,
        atol=1e-4,
        rtol=1e-5,
        check_grad=True,
    )


@verdict("reparameterized_sample")
def check_reparameterized_sample(fn, num_samples: int = 20_000):
    """Check ``fn(mu, log_sigma, num_samples, generator)``: reparameterised draws of shape ``(K, B, Dz)``.

    Three things are checked: the shape; the sample means and standard deviations
    against :math:`\\mu` and :math:`\\sigma` (within 5 standard errors); and that the
    gradients reach :math:`\\mu` and :math:`\\log\\sigma` as they must for :math:`z =
    \\mu + \\sigma\\varepsilon`: :math:`\\partial \\sum_k z_k / \\partial \\mu = K` and
    :math:`\\partial \\sum_k z_k / \\partial \\log\\sigma = \\sum_k (z_k - \\mu)`.

    >>> from vaecourse.gaussian_vae import reparameterize
    >>> check_reparameterized_sample(lambda mu, ls, k, g: reparameterize(mu, ls, k, generator=g))
    ✓ reparameterized_sample: shape, moments and gradients correct
    True
    """
    mu = torch.tensor(
        [[0.0, 3.0], [-2.0, 0.5], [1.0, -1.0]], requires_grad=True
    )  # (B, Dz) = (3, 2)
    log_sigma = torch.tensor([[0.0, -1.0], [1.0, 0.3], [-2.0, 0.0]], requires_grad=True)
    z = call(fn, (mu, log_sigma, num_samples, gen(4)))
    expect_tensor(z, (num_samples, *mu.shape), dtype=mu.dtype, what="sample (K, B, Dz)")
    sigma = log_sigma.detach().exp()
    se = sigma / math.sqrt(num_samples)  # standard error of a sample mean
    mean_error = ((z.detach().mean(0) - mu.detach()).abs() / se).max().item()
    if mean_error > 5:
        raise Failed(
            f"the sample mean is {mean_error:.1f} standard errors away from mu "
            "(is the mean added, and eps drawn from N(0, I)?)"
        )
    std_ratio = (z.detach().std(0) / sigma - 1).abs().max().item()
    if std_ratio > 5 / math.sqrt(2 * num_samples):
        raise Failed(
            f"the sample standard deviation is off by {std_ratio:.1%} of sigma "
            "(is sigma = exp(log_sigma), not exp(2 log_sigma) or log_sigma itself?)"
        )
    if not z.requires_grad:
        raise Failed(
            "no gradient flows from z back to mu and log_sigma "
            "(was z drawn with torch.normal or detached? write z = mu + sigma * eps)"
        )
    grads = call(
        torch.autograd.grad,
        (z.sum(), (mu, log_sigma)),
        {"allow_unused": True},
        label="backpropagating through the sample",
    )
    if grads[0] is None or grads[1] is None:
        which = "mu" if grads[0] is None else "log_sigma"
        raise Failed(f"no gradient reaches {which}")
    diff = compare(
        grads[0],
        torch.full_like(mu, float(num_samples)),
        atol=1e-2,
        rtol=1e-5,
        what="gradient of sum(z) with respect to mu",
    )
    diff = diff or compare(
        grads[1],
        (z.detach() - mu.detach()).sum(0),
        atol=1e-1,
        rtol=1e-4,
        what="gradient of sum(z) with respect to log_sigma",
    )
    if diff:
        raise Failed(diff)
    return "shape, moments and gradients correct"


def _elbo_single_sample(
    model: GaussianVAE, x: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """Reference: :math:`\\log p(x \\mid z) - \\mathrm{KL}(q \\| p)` with :math:`z = \\mu + \\sigma \\varepsilon`, ``(B,)``."""
    mu, log_sigma = model.encode(x)  # (B, Dz) each
    z = mu + torch.exp(log_sigma) * eps  # (B, Dz)
    return log_bernoulli(x, model.decode(z)) - kl_normal_standard(mu, log_sigma)


def check_elbo_single_sample(fn) -> bool:
    """Check ``fn(model, x, eps)``: the single-sample ELBO with the analytic KL, ``(B,)``, gradients
    with respect to the noise included.

    >>> check_elbo_single_sample(_elbo_single_sample)
    ✓ elbo_single_sample: correct on 2 inputs, gradients included
    True
    """
    with torch.random.fork_rng(
        devices=[]
    ):  # seeded weights, the caller's random state untouched
        torch.manual_seed(5)
        small = GaussianVAE(x_dim=12, z_dim=3, hidden=(8,))
        larger = GaussianVAE(x_dim=784, z_dim=20, hidden=(64,))
    g = gen(5)
    cases = []
    for label, model in (("a small VAE", small), ("a 784-64-20 VAE", larger)):
        x = torch.bernoulli(torch.full((6, model.x_dim), 0.3), generator=g)
        eps = torch.randn(6, model.z_dim, generator=g).requires_grad_()
        cases.append(Case(label, (model, x, eps)))
    return run_check(
        "elbo_single_sample",
        fn,
        _elbo_single_sample,
        cases,
        atol=1e-4,
        rtol=1e-5,
        check_grad=True,
    )


def _rate_and_active(model: GaussianVAE, x: torch.Tensor) -> tuple[float, int]:
    """Average KL to the prior (nats) and the number of dimensions whose posterior mean varies."""
    with torch.no_grad():
        mu, log_sigma = model.encode(x)  # (B, Dz) each
    return kl_normal_standard(mu, log_sigma).mean().item(), int(
        (mu.var(0) > 0.01).sum()
    )


TRAINING_LIMIT_FACTOR = 12
"""The student's training function may take this many times the usual limit (5 s -> 1 minute)."""


@verdict("train_beta_vae")
def check_train_beta_vae(
    fn,
    num_train: int = 3000,
    num_valid: int = 1000,
    epochs: int = 2,
    betas: tuple[float, float] = (1.0, 8.0),
) -> str:
    """Check ``fn(beta, x_train, epochs)``: a trained 20-D :class:`GaussianVAE` with KL weight ``beta``.

    The check trains one model per ``beta`` with the student's function on the same
    ``num_train`` training images and measures the outcome on ``num_valid`` validation images:
    the model must carry the requested ``beta``, training must have raised its validation ELBO
    above that of a fresh model, and the larger ``beta`` must give the lower rate (average KL to
    the prior) and no more active dimensions.
    """
    from ..data import load_binarized_mnist

    x_train = load_binarized_mnist("train")[:num_train]
    x_valid = load_binarized_mnist("valid")[:num_valid]
    outcome = {}
    for beta in betas:
        torch.manual_seed(0)
        model = call(
            fn,
            (beta, x_train, epochs),
            label=f"beta = {beta:g}",
            limit_factor=TRAINING_LIMIT_FACTOR,
        )
        if not isinstance(model, GaussianVAE):
            raise Failed(f"should return a GaussianVAE, got {type(model).__name__}")
        if model.beta != beta:
            raise Failed(
                f"asked for beta = {beta:g}, the model has beta = {model.beta:g}"
            )
        torch.manual_seed(0)
        fresh = GaussianVAE(
            model.x_dim, model.z_dim, hidden=model.config["hidden"], beta=beta
        )
        with torch.no_grad():
            trained, untrained = (m.elbo_terms(x_valid) for m in (model, fresh))
        gain = (trained["log_px_z"] - trained["kl"]).mean() - (
            untrained["log_px_z"] - untrained["kl"]
        ).mean()
        if (
            not gain >= 5
        ):  # nats; a single epoch gains hundreds, sampling noise a fraction of one
            raise Failed(
                f"beta = {beta:g}: the validation ELBO is within {gain:.1f} nats of a fresh "
                "model's (was the model trained on x_train?)"
            )
        outcome[beta] = _rate_and_active(model, x_valid)
    (rate_lo, active_lo), (rate_hi, active_hi) = outcome[betas[0]], outcome[betas[1]]
    if not rate_hi < rate_lo:
        raise Failed(
            f"the rate at beta = {betas[1]:g} ({rate_hi:.1f} nats) should be below "
            f"the rate at beta = {betas[0]:g} ({rate_lo:.1f} nats)"
        )
    if active_hi > active_lo:
        raise Failed(
            f"beta = {betas[1]:g} kept more active dimensions ({active_hi}) than "
            f"beta = {betas[0]:g} ({active_lo})"
        )
    return (
        f"rate {rate_lo:.1f} -> {rate_hi:.1f} nats and active dimensions "
        f"{active_lo} -> {active_hi} as beta goes {betas[0]:g} -> {betas[1]:g}"
    )
