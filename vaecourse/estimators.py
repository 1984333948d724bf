"""Score-function gradient estimators, their baselines, and a measure of gradient variance."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .densities import log_normal
from .nets import mlp
from .samplers import reparameterize

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
    "GradientStats",
    "gradient_variance",
    "grouped_gradient_variance",
]

BASELINES = ("none", "moving_average", "learned", "loo")
"""The baselines of the course, by the names that :func:`make_baseline` and the models accept."""


def score_function_term(signal: torch.Tensor, log_q: torch.Tensor, baseline: torch.Tensor | float = 0.0) -> torch.Tensor:
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
        raise ValueError(f"signal and log_q must have the same shape (K, B), got {tuple(signal.shape)} "
                         f"and {tuple(log_q.shape)}")
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
        raise ValueError(f"the leave-one-out baseline needs K >= 2 samples along dim 0, got shape {tuple(signal.shape)}")
    num = signal.shape[0]
    return (signal.sum(0, keepdim=True) - signal) / (num - 1)


class Baseline(nn.Module):
    r"""A control variate :math:`c` for the score-function estimator.

    ``forward(x, signal)`` returns ``(c, loss)``: the baseline, broadcastable to the
    ``(K, B)`` signal, and a scalar to add to the training loss (zero unless the
    baseline is learned). The signal passed in must already be detached.
    """

    def forward(self, x: torch.Tensor, signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
            raise ValueError("the learned baseline needs x_dim, the size of its input x")
        return LearnedBaseline(x_dim, **kwargs)
    if name == "loo":
        return LeaveOneOutBaseline()
    raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")


def fit_baseline(baseline: Baseline, x: torch.Tensor, signal: torch.Tensor, steps: int = 300, lr: float = 3e-3) -> Baseline:
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
        raise ValueError(f"signal must have shape (K, {x.shape[0]}) to match x, got {tuple(signal.shape)}")
    signal = signal.detach()
    average = baseline.moving_average if isinstance(baseline, LearnedBaseline) else baseline
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

    The two have the same expectation; their variances differ (chapter 4).

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
    return (signal + score_function_term(signal, log_normal(z, mu, log_sigma), c)).mean(0)


@dataclass
class GradientStats:
    """Per-coordinate statistics of repeated gradient estimates.

    Attributes:
        mean: ``(P,)`` mean of the estimates over the draws.
        variance: ``(P,)`` unbiased variance over the draws.
        num_draws: number of draws.
    """

    mean: torch.Tensor
    variance: torch.Tensor
    num_draws: int

    @property
    def total_variance(self) -> float:
        r""":math:`\sum_p \mathrm{Var}[\hat g_p]`, the expected squared distance to the mean gradient."""
        return float(self.variance.sum())

    @property
    def standard_error(self) -> torch.Tensor:
        """``(P,)`` standard errors of :attr:`mean`."""
        return (self.variance / self.num_draws).sqrt()

    @property
    def snr(self) -> float:
        r"""Signal-to-noise ratio :math:`\lVert \bar g \rVert / \sqrt{\sum_p \mathrm{Var}[\hat g_p]}`."""
        return float(self.mean.norm() / self.variance.sum().sqrt().clamp_min(1e-30))


def gradient_variance(estimator_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                      num_draws: int = 100) -> GradientStats:
    r"""Draw ``num_draws`` gradient estimates and return their mean and variance per parameter.

    ``estimator_fn()`` must return a fresh scalar surrogate (new random draws on each call);
    its gradient with respect to ``params`` is one estimate :math:`\hat g`. The estimates
    are flattened into one vector of :math:`P` coordinates and accumulated with Welford's
    update in float64, so memory stays :math:`O(P)` whatever the number of draws.

    Args:
        estimator_fn: ``() -> scalar`` surrogate loss.
        params: the tensors to differentiate (e.g. ``model.encoder.parameters()``).
        num_draws: repetitions, at least 2.

    >>> w = torch.tensor([2.0], requires_grad=True)
    >>> stats = gradient_variance(lambda: ((w * torch.randn(())) ** 2).sum(), [w], num_draws=4000)
    >>> abs(float(stats.mean) - 4.0) < 0.3, abs(float(stats.variance) - 32.0) < 6  # 2 w eps^2: mean 2w, var 8w^2
    (True, True)
    """
    params = list(params)
    if not params or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty sequence of tensors that require gradients")
    if not isinstance(num_draws, int) or num_draws < 2:
        raise ValueError(f"num_draws must be an integer >= 2 (a variance needs two draws), got {num_draws!r}")
    size = sum(p.numel() for p in params)
    mean = torch.zeros(size, dtype=torch.float64, device=params[0].device)
    m2 = torch.zeros_like(mean)
    for n in range(1, num_draws + 1):
        loss = estimator_fn()
        if loss.dim() != 0:
            raise ValueError(f"estimator_fn must return a scalar, got shape {tuple(loss.shape)}")
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        g = torch.cat([(gr if gr is not None else torch.zeros_like(p)).reshape(-1)
                       for gr, p in zip(grads, params)]).to(torch.float64)
        delta = g - mean
        mean += delta / n
        m2 += delta * (g - mean)
    return GradientStats(mean=mean, variance=m2 / (num_draws - 1), num_draws=num_draws)



# ---------------------------------------------------------------------------------------------
# Continuous relaxations of binary latents: the Concrete (Gumbel-softmax) sample and straight-through.

RELAXATIONS = ("relaxed", "straight_through")
"""The relaxation-based estimators, by the names that the binary-latent VAE accepts."""

__all__ += ["RELAXATIONS", "GradientBias", "gradient_bias", "relaxed_bernoulli", "relaxed_sample",
            "straight_through"]


def _check_temperature(temperature: float) -> float:
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return float(temperature)


def relaxed_bernoulli(logits: torch.Tensor, temperature: float, num_samples: int = 1) -> torch.Tensor:
    r"""Reparameterised relaxed Bernoulli draws (the binary Concrete or Gumbel-softmax sample).

    .. math:: \tilde z = \sigma\Big(\frac{\ell + \log u - \log(1 - u)}{\tau}\Big), \qquad u \sim U(0, 1)

    :math:`\log u - \log(1 - u)` is standard logistic noise, so
    :math:`P(\tilde z \le y) = \sigma\big(\tau \operatorname{logit}(y) - \ell\big)` for
    :math:`y \in (0, 1)`, and :math:`\mathbb{1}[\tilde z > \tfrac12]` is exactly
    :math:`\mathcal{B}(\sigma(\ell))` whatever :math:`\tau`. As :math:`\tau \to 0` the draws
    concentrate on {0, 1}; for any :math:`\tau` they are a differentiable function of :math:`\ell`.
    Drawn by :class:`torch.distributions.RelaxedBernoulli`.

    Args:
        logits: :math:`\ell`, shape ``(B, Dz)``.
        temperature: :math:`\tau > 0`.
        num_samples: :math:`K`.

    Returns:
        ``(K, B, Dz)`` values in (0, 1), differentiable in ``logits``.

    >>> z = relaxed_bernoulli(torch.zeros(1, 3, requires_grad=True), temperature=0.5, num_samples=4)
    >>> z.shape, bool(((z > 0) & (z < 1)).all()), z.requires_grad
    (torch.Size([4, 1, 3]), True, True)
    """
    tau = torch.as_tensor(_check_temperature(temperature), dtype=logits.dtype, device=logits.device)
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    return torch.distributions.RelaxedBernoulli(tau, logits=logits).rsample((num_samples,))


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    r"""The value of ``hard`` with the gradient of ``soft``: :math:`z = h + \tilde z - \mathrm{sg}(\tilde z)`.

    :math:`\mathrm{sg}` stops gradients, so the forward value is exactly :math:`h` and the
    backward pass treats :math:`\partial z / \partial \tilde z` as the identity. With
    :math:`h = \mathbb{1}[\tilde z > \tfrac12]` it is the straight-through Gumbel estimator:
    the decoder sees binary codes, and the gradient is the relaxed one, evaluated at the wrong
    point (a binary code), hence biased whatever the temperature.

    Args:
        hard: :math:`h`, any shape, no gradient needed.
        soft: :math:`\tilde z`, same shape, differentiable.

    >>> soft = torch.tensor([0.3, 0.8], requires_grad=True)
    >>> z = straight_through((soft > 0.5).float(), soft)
    >>> z.tolist(), torch.autograd.grad(z.sum(), soft)[0].tolist()
    ([0.0, 1.0], [1.0, 1.0])
    """
    if hard.shape != soft.shape:
        raise ValueError(f"hard and soft must have the same shape, got {tuple(hard.shape)} and {tuple(soft.shape)}")
    return hard.detach() + (soft - soft.detach())  # soft - soft is exactly 0 forward


def relaxed_sample(logits: torch.Tensor, estimator: str, temperature: float, num_samples: int = 1) -> torch.Tensor:
    r"""Latents for a relaxation-based estimator: relaxed draws, or binary draws with relaxed gradients.

    ``estimator="relaxed"`` returns :func:`relaxed_bernoulli` draws; ``"straight_through"`` returns
    :math:`\mathbb{1}[\tilde z > \tfrac12]`, exact :math:`\mathcal{B}(\sigma(\ell))` samples, through
    :func:`straight_through`. Shapes as in :func:`relaxed_bernoulli`.

    >>> z = relaxed_sample(torch.randn(2, 5), "straight_through", temperature=1.0, num_samples=3)
    >>> sorted(z.unique().tolist())
    [0.0, 1.0]
    """
    if estimator not in RELAXATIONS:
        raise ValueError(f"estimator must be one of {RELAXATIONS}, got {estimator!r}")
    soft = relaxed_bernoulli(logits, temperature, num_samples)  # (K, B, Dz)
    if estimator == "relaxed":
        return soft
    return straight_through((soft > 0.5).to(soft.dtype), soft)


@dataclass
class GradientBias:
    r"""How far the mean of repeated gradient estimates lies from an exact gradient :math:`g`.

    Attributes:
        distance: :math:`\lVert \bar g - g \rVert / \lVert g \rVert`, the relative distance of the mean.
        distance_se: its standard error (jackknife over batches of draws).
        noise: :math:`\sqrt{\sum_p \mathrm{se}_p^2} / \lVert g \rVert`, the distance that sampling
            noise alone produces: an unbiased estimator has ``distance`` close to ``noise``.
        stats: the :class:`GradientStats` of the draws.
    """

    distance: float
    distance_se: float
    noise: float
    stats: GradientStats

    @property
    def bias(self) -> float:
        r"""Relative bias with the noise removed, :math:`\sqrt{\max(d^2 - n^2, 0)}`."""
        return max(self.distance**2 - self.noise**2, 0.0) ** 0.5


def gradient_bias(estimator_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], exact: torch.Tensor,
                  num_draws: int = 1000, num_batches: int = 20) -> GradientBias:
    r"""Draw ``num_draws`` estimates (:func:`gradient_variance`) and measure their mean's distance to ``exact``.

    The draws are split into ``num_batches`` batches; the jackknife over batches gives the
    standard error of the distance without storing every estimate.

    Args:
        estimator_fn: ``() -> scalar`` surrogate, as for :func:`gradient_variance`.
        params: the tensors to differentiate.
        exact: ``(P,)`` the exact gradient, flattened in the order of ``params``.

    >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> result = gradient_bias(lambda: (w * (1 + 0.1 * torch.randn(2))).sum(), [w], torch.ones(2), 400)
    >>> result.bias < 3 * result.distance_se + 0.02  # unbiased: only noise separates the mean from g
    True
    """
    if not isinstance(num_batches, int) or num_batches < 2 or num_draws < 2 * num_batches:
        raise ValueError(f"need num_batches >= 2 and num_draws >= 2 num_batches, got {num_batches} and {num_draws}")
    exact = exact.reshape(-1).to(torch.float64)
    per_batch = num_draws // num_batches
    batches = [gradient_variance(estimator_fn, params, per_batch) for _ in range(num_batches)]
    means = torch.stack([b.mean for b in batches])  # (M, P)
    if means.shape[1] != exact.numel():
        raise ValueError(f"exact has {exact.numel()} coordinates, the parameters have {means.shape[1]}")
    scale = float(exact.norm())
    mean = means.mean(0)
    leave_out = (means.sum(0, keepdim=True) - means) / (num_batches - 1)  # (M, P)
    jack = (leave_out - exact).norm(dim=1) / scale  # (M,)
    distance_se = float(((num_batches - 1) / num_batches * ((jack - jack.mean()) ** 2).sum()).sqrt())
    variance = torch.stack([b.variance for b in batches]).mean(0)  # each batch's variance is unbiased
    stats = GradientStats(mean=mean, variance=variance, num_draws=per_batch * num_batches)
    noise = float(stats.standard_error.norm()) / scale
    return GradientBias(float((mean - exact).norm()) / scale, distance_se, noise, stats)
def grouped_gradient_variance(estimator_fn: Callable[[], torch.Tensor], groups: dict[str, Sequence[torch.Tensor]],
                              num_draws: int = 100) -> dict[str, GradientStats]:
    r""":func:`gradient_variance` for several groups of parameters from the same draws, one result per group.

    The groups share each draw (e.g. an encoder's and a decoder's gradient from one surrogate),
    so measuring them together costs one backward pass per draw, not one per group.

    Args:
        estimator_fn: ``() -> scalar`` surrogate loss.
        groups: name -> parameters, e.g. ``{"encoder": [...], "decoder": [...]}``.
        num_draws: repetitions, at least 2.

    >>> a, b = torch.tensor([1.0], requires_grad=True), torch.tensor([3.0], requires_grad=True)
    >>> stats = grouped_gradient_variance(lambda: (a * b).sum(), {"a": [a], "b": [b]}, num_draws=3)
    >>> float(stats["a"].mean), float(stats["b"].mean), float(stats["a"].variance)
    (3.0, 1.0, 0.0)
    """
    if not groups:
        raise ValueError("groups must name at least one group of parameters")
    params = {name: list(ps) for name, ps in groups.items()}
    if any(not ps for ps in params.values()):
        raise ValueError(f"every group needs parameters; empty: {[n for n, ps in params.items() if not ps]}")
    stats = gradient_variance(estimator_fn, [p for ps in params.values() for p in ps], num_draws)
    out, start = {}, 0
    for name, ps in params.items():
        stop = start + sum(p.numel() for p in ps)
        out[name] = GradientStats(stats.mean[start:stop], stats.variance[start:stop], stats.num_draws)
        start = stop
    return out
