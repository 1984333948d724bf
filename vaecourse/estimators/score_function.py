"""Score-function gradient estimators and their baselines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..densities import log_normal
from ..nets import mlp
from ..samplers import reparameterize

__all__ = [
    "BASELINES",
    "Baseline",
    "NoBaseline",
    "MovingAverageBaseline",
    "LearnedBaseline",
    "LeaveOneOutBaseline",
    "make_baseline",
    "fit_baseline",
    "leave_one_out",
    "score_function_term",
    "gaussian_surrogate",
]


BASELINES = ("none", "moving_average", "learned", "loo")
"""The baselines of the course, by the names that :func:`make_baseline` and the models accept."""


def score_function_term(
    signal: torch.Tensor, log_q: torch.Tensor, baseline: torch.Tensor | float = 0.0
) -> torch.Tensor:
    r"""The score-function surrogate :math:`(f - c)\,\log q`, with the learning signal held constant.

    Its gradient with respect to the parameters :math:`\phi` of :math:`q` is one draw of the
    score-function (REINFORCE) estimator

    .. math:: \widehat{\nabla_\phi \mathbb{E}_{q_\phi}[f]} = \big(f(z) - c\big)\, \nabla_\phi \log q_\phi(z),
              \qquad z \sim q_\phi,

    because the factor :math:`f - c` is detached: gradients flow through :math:`\log q` only.
    A baseline :math:`c` that does not depend on :math:`z` leaves the estimator's mean
    unchanged, since :math:`\mathbb{E}_q[\nabla_\phi \log q_\phi] = 0`. Differentiating
    :math:`f` itself (the direct term, e.g. for a decoder) is left to the caller.

    Args:
        signal: :math:`f(z_k)`, the learning signal, shape ``(K, B)``.
        log_q: :math:`\log q_\phi(z_k)`, same shape, differentiable in :math:`\phi`.
        baseline: :math:`c`, broadcastable to ``(K, B)``.

    Returns:
        ``(K, B)`` surrogate values; average over the samples and the batch, then differentiate.

    >>> theta = torch.tensor(0.3, requires_grad=True)           # q = Bernoulli(sigmoid(theta))
    >>> z = torch.tensor([[1.0], [0.0]])                        # (K=2, B=1) draws
    >>> log_q = z * torch.nn.functional.logsigmoid(theta) + (1 - z) * torch.nn.functional.logsigmoid(-theta)
    >>> score_function_term(3.0 * z, log_q).mean().backward()  # f(z) = 3 z
    >>> round(float(theta.grad), 4)                             # (3 (1 - s) + 0) / 2
    0.6383
    """
    if signal.shape != log_q.shape:
        raise ValueError(
            f"signal and log_q must have the same shape (K, B), got {tuple(signal.shape)} "
            f"and {tuple(log_q.shape)}"
        )
    return (signal - baseline).detach() * log_q


def leave_one_out(signal: torch.Tensor) -> torch.Tensor:
    r"""The leave-one-out baseline: for each sample, the mean signal of the other :math:`K - 1`.

    .. math:: c_k = \frac{1}{K - 1} \sum_{j \ne k} f(z_j)

    :math:`c_k` is independent of :math:`z_k`, so it leaves the estimator unbiased
    (REINFORCE leave-one-out, Kool et al. 2019; VIMCO's baseline, Mnih & Rezende 2016).

    Args:
        signal: ``(K, B)`` with :math:`K \ge 2`.

    >>> leave_one_out(torch.tensor([[1.0], [2.0], [6.0]])).squeeze(-1)
    tensor([4.0000, 3.5000, 1.5000])
    """
    if signal.dim() < 1 or signal.shape[0] < 2:
        raise ValueError(
            f"the leave-one-out baseline needs K >= 2 samples along dim 0, got shape {tuple(signal.shape)}"
        )
    num = signal.shape[0]
    return (signal.sum(0, keepdim=True) - signal) / (num - 1)


class Baseline(nn.Module):
    r"""A control variate :math:`c` for the score-function estimator.

    ``forward(x, signal)`` returns ``(c, loss)``: the baseline, broadcastable to the
    ``(K, B)`` signal, and a scalar to add to the training loss (zero unless the
    baseline is learned). The signal passed in must already be detached.
    """

    def forward(
        self, x: torch.Tensor, signal: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class NoBaseline(Baseline):
    """:math:`c = 0`: the plain score-function estimator."""

    def forward(self, x, signal):
        zero = signal.new_zeros(())
        return zero, zero


class MovingAverageBaseline(Baseline):
    r"""The report's :math:`c`: an exponential moving average of the mean learning signal.

    .. math:: m_t = \rho\, m_{t-1} + (1 - \rho)\, \bar f_t, \qquad c_t = \frac{m_{t-1}}{1 - \rho^{t-1}}

    The value used at step :math:`t` is computed before the current batch enters it, so it
    is independent of the current samples (unbiased); the division by
    :math:`1 - \rho^{t-1}` removes the pull towards the initial zero, as in Adam. The
    average updates only in training mode, so measuring variance in eval mode does not
    change it. The same number serves every :math:`x`: it is a constant, not a function of :math:`x`.

    Args:
        decay: :math:`\rho` in (0, 1).

    >>> b = MovingAverageBaseline(decay=0.5)
    >>> [round(float(b(None, torch.full((2, 3), v))[0]), 3) for v in (-10.0, -20.0, -20.0)]
    [0.0, -10.0, -16.667]
    """

    def __init__(self, decay: float = 0.9):
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.register_buffer("average", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def value(self) -> torch.Tensor:
        """The current baseline :math:`c` (0 before the first update)."""
        if int(self.steps) == 0:
            return torch.zeros_like(self.average)
        return self.average / (1.0 - self.decay ** int(self.steps))

    @torch.no_grad()
    def set_value(self, value: float | torch.Tensor) -> None:
        """Set :math:`c` directly (as if it had converged to ``value``)."""
        self.steps.fill_(10_000)
        self.average.fill_(float(value))

    @torch.no_grad()
    def update(self, signal: torch.Tensor) -> None:
        """Fold the mean of ``signal`` into the average."""
        self.average.mul_(self.decay).add_((1.0 - self.decay) * signal.mean())
        self.steps.add_(1)

    def forward(self, x, signal):
        c = self.value.to(signal.dtype)
        if self.training:
            self.update(signal.detach())
        return c, signal.new_zeros(())


class LearnedBaseline(Baseline):
    r"""An input-dependent baseline :math:`c_\psi(x)` fitted to the signal by squared error (NVIL).

    .. math:: c_\psi(x) = m + g_\psi(x), \qquad \mathcal{L}_\psi = \mathbb{E}\big[(f(z) - c_\psi(x))^2\big]

    :math:`m` is a :class:`MovingAverageBaseline` and the network :math:`g_\psi` learns the
    residual around it, as in Mnih & Gregor (2014): the signal is hundreds of nats away from
    zero, and a network would need thousands of small optimiser steps to travel there on its own.
    The returned loss trains :math:`\psi` with the model's optimiser; the baseline is
    detached inside the estimator, so it never changes the model's gradient in expectation.

    Args:
        x_dim: :math:`D`, the input size.
        hidden: hidden widths of :math:`g_\psi`.
        decay: :math:`\rho` of the moving average.

    >>> b = LearnedBaseline(x_dim=4, hidden=(3,))
    >>> c, loss = b(torch.zeros(5, 4), torch.zeros(2, 5))
    >>> c.shape, loss.shape
    (torch.Size([5]), torch.Size([]))
    """

    def __init__(self, x_dim: int, hidden: Sequence[int] = (100,), decay: float = 0.9):
        super().__init__()
        self.moving_average = MovingAverageBaseline(decay)
        self.net = mlp((x_dim, *hidden, 1), "tanh")

    def forward(self, x, signal):
        c = self.moving_average(x, signal)[0] + self.net(x).squeeze(-1)  # (B,)
        loss = ((signal.detach() - c) ** 2).mean()
        return c.detach(), loss


class LeaveOneOutBaseline(Baseline):
    """:func:`leave_one_out` as a :class:`Baseline` (needs :math:`K \\ge 2` samples per example)."""

    def forward(self, x, signal):
        return leave_one_out(signal.detach()), signal.new_zeros(())


def make_baseline(name: str, x_dim: int | None = None, **kwargs) -> Baseline:
    """Build the baseline called ``name`` (one of :data:`BASELINES`).

    >>> type(make_baseline("loo")).__name__
    'LeaveOneOutBaseline'
    """
    if name == "none":
        return NoBaseline()
    if name == "moving_average":
        return MovingAverageBaseline(**kwargs)
    if name == "learned":
        if x_dim is None:
            raise ValueError(
                "the learned baseline needs x_dim, the size of its input x"
            )
        return LearnedBaseline(x_dim, **kwargs)
    if name == "loo":
        return LeaveOneOutBaseline()
    raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")


def fit_baseline(
    baseline: Baseline,
    x: torch.Tensor,
    signal: torch.Tensor,
    steps: int = 300,
    lr: float = 3e-3,
) -> Baseline:
    """Calibrate ``baseline`` to a fixed model: the state it would reach if the model stopped moving.

    The moving average is set to the mean of ``signal``; a learned baseline then regresses
    the residual of ``signal`` on ``x`` for ``steps`` Adam steps. Other baselines have no state.
    Used to compare baselines at the same parameters, each in its converged state.

    Args:
        baseline: a :class:`Baseline`.
        x: ``(B, D)`` inputs.
        signal: ``(K, B)`` learning signals drawn at the current parameters (detached).

    Returns:
        ``baseline``, in eval mode.
    """
    if signal.dim() != 2 or signal.shape[1] != x.shape[0]:
        raise ValueError(
            f"signal must have shape (K, {x.shape[0]}) to match x, got {tuple(signal.shape)}"
        )
    signal = signal.detach()
    average = (
        baseline.moving_average if isinstance(baseline, LearnedBaseline) else baseline
    )
    if isinstance(average, MovingAverageBaseline):
        average.set_value(signal.mean())
    if isinstance(baseline, LearnedBaseline):
        baseline.moving_average.eval()  # keep the average fixed while the network learns
        optimizer = torch.optim.Adam(baseline.net.parameters(), lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                baseline(x, signal)[1].backward()
                optimizer.step()
    return baseline.eval()


def gaussian_surrogate(
    signal_fn: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    log_sigma: torch.Tensor,
    num_samples: int = 1,
    method: str = "reparam",
    baseline: str = "none",
) -> torch.Tensor:
    r"""A surrogate whose gradient estimates :math:`\nabla \mathbb{E}_{\mathcal{N}(z; \mu, \sigma^2)}[f(z)]`.

    * ``method="reparam"``: :math:`z = \mu + \sigma \varepsilon` and the surrogate is :math:`f(z)`
      itself (the pathwise gradient :math:`\nabla_z f \cdot \partial z / \partial(\mu, \sigma)`);
    * ``method="score"``: :math:`z` is drawn without a gradient path and the surrogate is
      :math:`f(z) + (f(z) - c) \log \mathcal{N}(z; \mu, \sigma^2)` with :math:`f - c` held constant
      (:func:`score_function_term`); the first term keeps the direct gradient of any
      parameters inside :math:`f` (a decoder's).

    The two have the same expectation; their variances differ (chapter 6).

    Args:
        signal_fn: :math:`f`, mapping ``(K, B, Dz)`` latents to ``(K, B)`` values.
        mu: :math:`\mu`, ``(B, Dz)``.
        log_sigma: :math:`\log\sigma`, ``(B, Dz)``.
        num_samples: :math:`K`.
        method: ``"reparam"`` or ``"score"``.
        baseline: ``"none"`` or ``"loo"`` (score method only).

    Returns:
        ``(B,)``, the surrogate averaged over the :math:`K` samples.

    >>> mu = torch.tensor([[1.5]], requires_grad=True)
    >>> gaussian_surrogate(lambda z: (z ** 2).sum(-1), mu, torch.zeros(1, 1), 10_000).sum().backward()
    >>> abs(float(mu.grad) - 3.0) < 0.1  # d/dmu E[z^2] = d/dmu (mu^2 + sigma^2) = 2 mu
    True
    """
    if method not in ("reparam", "score"):
        raise ValueError(f"method must be 'reparam' or 'score', got {method!r}")
    if baseline not in ("none", "loo"):
        raise ValueError(f"baseline must be 'none' or 'loo' here, got {baseline!r}")
    if method == "reparam" and baseline != "none":
        raise ValueError("a baseline applies to the score-function method only")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
    if method == "reparam":
        return signal_fn(z).mean(0)
    z = z.detach()  # no path to mu or sigma
    signal = signal_fn(z)  # (K, B)
    c = leave_one_out(signal) if baseline == "loo" else 0.0
    return (signal + score_function_term(signal, log_normal(z, mu, log_sigma), c)).mean(
        0
    )
