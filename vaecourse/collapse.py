"""Posterior collapse measured: active units along training, the rate split, the aggregate posterior."""

from __future__ import annotations

import math

import torch

from .codes import active_units
from .densities import kl_normal_standard, log_mean_exp, log_normal, log_standard_normal
from .evaluate import elbo
from .protocol import check_positive_int
from .samplers import reparameterize
from .train import train

__all__ = [
    "aggregate_log_density",
    "kl_per_dimension",
    "log_density_ratio",
    "rate_decomposition",
    "train_recorded",
]

# (code, image) pairs per block of the aggregate posterior's log-density: bounds memory
_PAIRS_PER_BLOCK = 2**21


@torch.no_grad()
def kl_per_dimension(model, x: torch.Tensor) -> torch.Tensor:
    r"""Each latent dimension's KL term to :math:`\mathcal{N}(0, 1)`, averaged over ``x``: ``(Dz,)``.

    .. math:: \overline{\mathrm{KL}}_j = \frac1N \sum_{n=1}^N
              \mathrm{KL}\big(q_\phi(z_j \mid x_n) \,\|\, \mathcal{N}(0, 1)\big)

    Summed over :math:`j`, it is the rate of a Gaussian VAE with the standard-normal prior.
    """
    mu, log_sigma = model.encode(model.check_data(x).to(model.device))  # (N, Dz) each
    per_dim = kl_normal_standard(mu.unsqueeze(-1), log_sigma.unsqueeze(-1))  # (N, Dz)
    return per_dim.mean(0).cpu()


def aggregate_log_density(
    z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor
) -> torch.Tensor:
    r"""The log-density of the aggregate posterior of :math:`N` images at the points ``z``.

    .. math:: \log q_\phi(z) = \log \frac1N \sum_{n=1}^N \mathcal{N}\big(z; \mu_n, \operatorname{diag}\sigma_n^2\big)

    Args:
        z: points ``(M, Dz)``.
        mu: :math:`\mu_\phi(x_n)` of the images, ``(N, Dz)``.
        log_sigma: :math:`\log \sigma_\phi(x_n)`, ``(N, Dz)``.

    Returns:
        ``(M,)`` log-densities, computed in blocks of points so that memory stays bounded.

    >>> mu, log_sigma = torch.zeros(3, 2), torch.zeros(3, 2)  # three copies of N(0, I)
    >>> torch.allclose(aggregate_log_density(torch.ones(4, 2), mu, log_sigma),
    ...                log_standard_normal(torch.ones(4, 2)))
    True
    """
    if z.dim() != 2 or mu.shape != log_sigma.shape or mu.shape[-1] != z.shape[-1]:
        raise ValueError(
            f"z must be (M, Dz) and mu, log_sigma (N, Dz), got {tuple(z.shape)}, "
            f"{tuple(mu.shape)} and {tuple(log_sigma.shape)}"
        )
    block = max(1, _PAIRS_PER_BLOCK // max(1, mu.shape[0]))
    out = [
        log_mean_exp(log_normal(zb[:, None], mu, log_sigma), dim=1)  # (M', N) -> (M',)
        for zb in z.split(block)
    ]
    return torch.cat(out) if out else z.new_empty(0)


def _log_prior(model):
    """The model's prior log-density: its own ``log_prior``, else the standard normal."""
    return getattr(model, "log_prior", log_standard_normal)


@torch.no_grad()
def log_density_ratio(model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r""":math:`\log q_\phi(z) - \log p(z)` at the points ``z`` ``(M, Dz)``, the aggregate posterior
    taken over the images ``x``: very negative where the prior puts mass that no image's
    posterior covers (a *hole*). Shape ``(M,)``.

    As an estimate of the aggregate posterior of the distribution that the images are drawn
    from, the log of the average over the images is biased low (Jensen's inequality), most
    where few codes lie: a small sample of images shows more holes."""
    mu, log_sigma = model.encode(model.check_data(x).to(model.device))
    z = z.to(mu)
    return (aggregate_log_density(z, mu, log_sigma) - _log_prior(model)(z)).cpu()


@torch.no_grad()
def rate_decomposition(
    model,
    x: torch.Tensor,
    num_codes: int,
    generator: torch.Generator | None = None,
    samples_per_image: int = 32,
) -> dict[str, float]:
    r"""The rate and its two parts, :math:`I_q(x; z)` and :math:`\mathrm{KL}(q_\phi(z) \,\|\, p(z))`.

    With :math:`p_{\mathrm{data}}` uniform on the :math:`N` images ``x`` and the aggregate
    posterior :math:`q_\phi(z) = \frac1N \sum_n q_\phi(z \mid x_n)`,

    .. math:: \mathbb{E}_{p_{\mathrm{data}}} \mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))
              = I_q(x; z) + \mathrm{KL}(q_\phi(z) \,\|\, p(z)).

    The two parts are averages over ``num_codes`` codes :math:`z_m \sim q_\phi(z)` (an image,
    then its posterior), with :math:`\log q_\phi(z_m)` summed exactly over the :math:`N` images.
    The rate on the left is estimated independently: in closed form for the standard-normal
    prior, else from ``samples_per_image`` fresh draws of each image's posterior.

    For :math:`p_{\mathrm{data}}` uniform on the images, every average is unbiased. For the
    distribution that the images are drawn from, the rate stays unbiased, but the information
    is biased low: it is the InfoNCE bound with its best critic (Poole et al., 2019),
    below :math:`I_q(x; z)` in expectation and never above :math:`\log N`. The second part,
    the rate minus the first, is biased high by as much.

    Returns:
        a dict of floats: ``rate`` and ``rate_se`` (its Monte Carlo standard error, 0 in closed
        form), ``mutual_info``, ``marginal_kl``, ``sum_se`` (the standard error of their sum)
        and ``log_n`` (:math:`\log N`, an upper bound on the mutual information).
    """
    check_positive_int(num_codes, "num_codes")
    check_positive_int(samples_per_image, "samples_per_image")
    mu, log_sigma = model.encode(model.check_data(x).to(model.device))  # (N, Dz) each
    log_prior = _log_prior(model)
    n = torch.randint(len(mu), (num_codes,), generator=generator).to(mu.device)
    eps = torch.randn(num_codes, mu.shape[1], generator=generator).to(mu)
    z = mu[n] + log_sigma[n].exp() * eps  # (M, Dz): x_n ~ p_data, then z ~ q(z | x_n)
    log_q_agg = aggregate_log_density(z, mu, log_sigma)  # (M,)
    info = log_normal(z, mu[n], log_sigma[n]) - log_q_agg  # (M,) integrand of I_q(x; z)
    marginal = log_q_agg - log_prior(z)  # (M,) integrand of KL(q(z) || p(z))
    if not hasattr(model, "log_prior"):
        rate, rate_se = kl_normal_standard(mu, log_sigma).mean().item(), 0.0
    else:
        zs = reparameterize(mu, log_sigma, samples_per_image, generator=generator)
        terms = log_normal(zs, mu, log_sigma) - log_prior(zs)  # (S, N)
        rate = terms.mean().item()
        rate_se = math.sqrt(terms.var(0).mean().item() / terms.numel())
    return dict(
        rate=rate,
        rate_se=rate_se,
        mutual_info=info.mean().item(),
        marginal_kl=marginal.mean().item(),
        sum_se=((info + marginal).std() / math.sqrt(num_codes)).item(),
        log_n=math.log(len(mu)),
    )


def train_recorded(
    model,
    x_train: torch.Tensor,
    x_valid: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    every: int = 100,
    active_threshold: float = 0.01,
) -> dict:
    """Train ``model`` with :func:`vaecourse.train.train`, measuring it every ``every`` steps.

    Each epoch visits the training images in a seeded random order, in segments of ``every``
    batches; one Adam optimiser carries its state across the segments. Before the first step
    and after each segment it records, on ``x_valid``: the number of active units
    (:func:`~vaecourse.codes.active_units`), the rate (the mean KL term to the prior, in
    closed form) and the ELBO.

    Returns:
        a dict of plain lists and numbers: ``step``, ``active``, ``rate``, ``valid_elbo`` (one
        entry per measurement), ``train_elbo`` (the mean training ELBO of each segment),
        ``seconds`` (time in training steps) and ``kl_per_dim`` (each dimension's mean KL term
        on ``x_valid`` at the end).
    """
    for value, name in (
        (epochs, "epochs"),
        (batch_size, "batch_size"),
        (every, "every"),
    ):
        check_positive_int(value, name)
    x_train = model.check_data(x_train, "x_train")
    x_valid = model.check_data(x_valid, "x_valid")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    record = dict(step=[], active=[], rate=[], valid_elbo=[], train_elbo=[])

    def measure(step: int) -> None:
        model.eval()
        record["step"].append(step)
        record["active"].append(
            int(active_units(model, x_valid, active_threshold).sum())
        )
        record["rate"].append(float(kl_per_dimension(model, x_valid).sum()))
        record["valid_elbo"].append(float(elbo(model, x_valid).mean()))

    measure(0)
    steps, seconds = 0, 0.0
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for segment in order.split(every * batch_size):
            history = train(
                model, x_train[segment], epochs=1, batch_size=batch_size,
                optimizer=optimizer, seed=seed + steps + 1, progress=False,
            )  # fmt: skip
            steps += math.ceil(len(segment) / batch_size)
            seconds += history.seconds
            record["train_elbo"].append(history.train["elbo"][0])
            measure(steps)
    record["seconds"] = seconds
    record["kl_per_dim"] = kl_per_dimension(model, x_valid).tolist()
    return record
