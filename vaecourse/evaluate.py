"""Importance-weighted estimates of log p(x), and the ELBO, for any model with ``log_weights``."""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from .protocol import check_batch

__all__ = ["elbo", "iw_log_likelihood"]

# (sample, example) pairs per call of ``log_weights``: bounds memory whatever K and N are.
_PAIRS_PER_CHUNK = 2**16


def _check_args(model, x, num_samples):
    if not hasattr(model, "log_weights"):
        raise TypeError(f"{type(model).__name__} has no log_weights(x, num_samples); it cannot be scored")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    return check_batch(x, model.x_dim)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


@torch.no_grad()
def elbo(model, x: torch.Tensor, num_samples: int = 1, data_batch_size: int = 1000) -> torch.Tensor:
    r"""Monte Carlo ELBO per example: :math:`\frac1K \sum_k \log \frac{p(x, z_k)}{q(z_k \mid x)}`.

    Args:
        model: any model with ``log_weights(x, num_samples) -> (K, B)``.
        x: data ``(N, D)``.
        num_samples: :math:`K`, draws of :math:`z` per example.
        data_batch_size: examples per call of ``log_weights``.

    Returns:
        ``(N,)`` ELBO estimates in nats, on the CPU.
    """
    x = _check_args(model, x, num_samples)
    out = []
    for a, b in _chunks(x.shape[0], data_batch_size):
        xb = x[a:b].to(model.device)
        out.append(model.log_weights(xb, num_samples).mean(0).cpu())  # (b - a,)
    return torch.cat(out)


@torch.no_grad()
def iw_log_likelihood(
    model,
    x: torch.Tensor,
    num_samples: int,
    batch_size: int | None = None,
    data_batch_size: int = 500,
    progress: bool = False,
) -> torch.Tensor:
    r"""Importance-weighted estimate of :math:`\log p(x)` per example (Burda et al., 2016).

    .. math:: \log \hat p_K(x) = \log \frac1K \sum_{k=1}^K \frac{p(x, z_k)}{q(z_k \mid x)}, \quad z_k \sim q(z \mid x)

    Its expectation is a lower bound on :math:`\log p(x)` that rises with :math:`K` and
    reaches :math:`\log p(x)` as :math:`K \to \infty`; :math:`K = 1` is the ELBO.
    The samples are drawn in chunks of ``batch_size`` and combined with a running
    ``logaddexp``, so memory does not grow with :math:`K`.

    Args:
        model: any model with ``log_weights(x, num_samples) -> (K, B)``.
        x: data ``(N, D)``.
        num_samples: :math:`K`.
        batch_size: samples per chunk (default: as many as keep a chunk near 65,536
            sample-example pairs).
        data_batch_size: examples per chunk.
        progress: show a progress bar over data chunks.

    Returns:
        ``(N,)`` estimates in nats, on the CPU.
    """
    x = _check_args(model, x, num_samples)
    data_batch_size = min(data_batch_size, x.shape[0])
    if batch_size is None:
        batch_size = max(1, _PAIRS_PER_CHUNK // data_batch_size)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer (samples per chunk), got {batch_size!r}")
    out = []
    chunks = list(_chunks(x.shape[0], data_batch_size))
    for a, b in tqdm(chunks, desc=f"IW log-likelihood (K={num_samples})", disable=not progress):
        xb = x[a:b].to(model.device)
        total = torch.full((b - a,), -math.inf, device=xb.device)
        for s, t in _chunks(num_samples, batch_size):
            log_w = model.log_weights(xb, t - s)  # (t - s, b - a)
            total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        out.append((total - math.log(num_samples)).cpu())
    return torch.cat(out)
