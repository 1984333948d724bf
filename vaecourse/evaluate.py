"""Importance-weighted estimates of log p(x), and the ELBO, for any model with ``log_weights``."""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from .codes import active_units  # the one implementation, also offered here
from .protocol import check_positive_int

__all__ = ["elbo", "iw_log_likelihood", "active_units"]

# (sample, example) pairs per call of ``log_weights``: bounds memory whatever K and N are.
_PAIRS_PER_CHUNK = 2**16


def _check_args(model, x, num_samples, data_batch_size, index):
    """The data in the model's dtype and the row index, both checked, or a clear error."""
    if not hasattr(model, "log_weights") or not hasattr(model, "check_data"):
        raise TypeError(
            f"{type(model).__name__} has no log_weights(x, num_samples, index) and check_data(x); "
            "it cannot be scored (subclass vaecourse.protocol.LatentVariableModel)"
        )
    check_positive_int(num_samples, "num_samples")
    check_positive_int(data_batch_size, "data_batch_size")
    x = model.check_data(x)  # the same checks, and the same messages, as training
    if index is not None:
        index = torch.as_tensor(index)
        if index.shape != (x.shape[0],) or index.is_floating_point():
            raise ValueError(
                f"index must be an integer tensor of shape ({x.shape[0]},), one row number per "
                f"example of x, got {index.dtype} of shape {tuple(index.shape)}"
            )
    return x, index


def _chunks(x: torch.Tensor, index: torch.Tensor | None, size: int, device):
    """``(x_rows, index_rows)`` for consecutive chunks of ``size`` examples, the rows moved to ``device``."""
    for a in range(0, x.shape[0], size):
        yield x[a : a + size].to(device), None if index is None else index[a : a + size]


@torch.no_grad()
def elbo(
    model,
    x: torch.Tensor,
    num_samples: int = 1,
    data_batch_size: int = 1000,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Monte Carlo ELBO per example: :math:`\frac1K \sum_k \log \frac{p(x, z_k)}{q(z_k \mid x)}`.

    Args:
        model: a :class:`~vaecourse.protocol.LatentVariableModel` (``log_weights(x, num_samples, index)``).
        x: data ``(N, D)``, checked as training checks it (:meth:`~vaecourse.protocol.CourseModel.check_data`).
        num_samples: :math:`K`, draws of :math:`z` per example.
        data_batch_size: examples per call of ``log_weights``.
        index: optional ``(N,)`` rows of ``x`` in the data set whose per-example variational
            parameters the model holds (a :class:`~vaecourse.sbn.SigmoidBeliefNet`'s table);
            passed on, chunk by chunk, to ``log_weights``.

    Returns:
        ``(N,)`` ELBO estimates in nats, on the CPU (empty for empty ``x``).
    """
    x, index = _check_args(model, x, num_samples, data_batch_size, index)
    out = [torch.empty(0, dtype=x.dtype)]
    for xb, ib in _chunks(x, index, data_batch_size, model.device):
        out.append(model.log_weights(xb, num_samples, index=ib).mean(0).cpu())  # (B,)
    return torch.cat(out)


@torch.no_grad()
def iw_log_likelihood(
    model,
    x: torch.Tensor,
    num_samples: int,
    batch_size: int | None = None,
    data_batch_size: int = 500,
    progress: bool = False,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Importance-weighted estimate of :math:`\log p(x)` per example (Burda et al., 2016).

    .. math:: \log \hat p_K(x) = \log \frac1K \sum_{k=1}^K \frac{p(x, z_k)}{q(z_k \mid x)}, \quad z_k \sim q(z \mid x)

    Its expectation is a lower bound on :math:`\log p(x)` that rises with :math:`K` and
    reaches :math:`\log p(x)` as :math:`K \to \infty`; :math:`K = 1` is the ELBO.
    The samples are drawn in chunks of ``batch_size`` and combined with a running
    ``logaddexp``, so memory does not grow with :math:`K`.

    Args:
        model: a :class:`~vaecourse.protocol.LatentVariableModel` (``log_weights(x, num_samples, index)``).
        x: data ``(N, D)``, checked as training checks it.
        num_samples: :math:`K`.
        batch_size: samples per chunk (default: as many as keep a chunk near 65,536
            sample-example pairs).
        data_batch_size: examples per chunk.
        progress: show a progress bar over data chunks.
        index: optional ``(N,)`` rows of ``x`` for models with per-example parameters (see :func:`elbo`).

    Returns:
        ``(N,)`` estimates in nats, on the CPU (empty for empty ``x``).
    """
    x, index = _check_args(model, x, num_samples, data_batch_size, index)
    data_batch_size = max(1, min(data_batch_size, x.shape[0]))
    if batch_size is None:
        batch_size = max(1, _PAIRS_PER_CHUNK // data_batch_size)
    batch_size = check_positive_int(batch_size, "batch_size (samples per chunk)")
    out = [torch.empty(0, dtype=x.dtype)]
    chunks = tqdm(
        _chunks(x, index, data_batch_size, model.device),
        total=math.ceil(x.shape[0] / data_batch_size),
        desc=f"IW log-likelihood (K={num_samples})",
        disable=not progress,
    )
    for xb, ib in chunks:
        total = torch.full((xb.shape[0],), -math.inf, dtype=xb.dtype, device=xb.device)
        for start in range(0, num_samples, batch_size):
            log_w = model.log_weights(
                xb, min(batch_size, num_samples - start), index=ib
            )  # (K', B)
            total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
        out.append((total - math.log(num_samples)).cpu())
    return torch.cat(out)
