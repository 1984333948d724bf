"""Draws of the course's latent variables, and the enumeration of binary latent states."""

from __future__ import annotations

import torch

__all__ = ["sample_bernoulli", "reparameterize", "all_binary_states"]


def sample_bernoulli(
    logits: torch.Tensor, num_samples: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Draw :math:`z \sim \mathcal{B}(\operatorname{sigmoid}(\ell))` elementwise, ``num_samples`` times.

    The draw :math:`z = \mathbb{1}[u < \operatorname{sigmoid}(\ell)]` with :math:`u \sim U(0, 1)` is a step
    function of :math:`\ell`: it carries no gradient, which is why binary latents need the
    score-function estimator instead of the reparameterisation trick.

    Args:
        logits: :math:`\ell`, shape ``(B, Dz)``.
        num_samples: :math:`K`.
        generator: optional seeded CPU generator.

    Returns:
        ``(K, B, Dz)`` values in {0, 1}, detached.

    >>> z = sample_bernoulli(torch.tensor([[-50.0, 50.0]]), num_samples=3)
    >>> z[:, 0].tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    probs = torch.sigmoid(logits.detach())
    # uniforms drawn on the CPU when a CPU generator is given, so a seed gives the same draws on every device
    device = probs.device if generator is None else generator.device
    u = torch.rand(
        (num_samples, *logits.shape),
        generator=generator,
        dtype=probs.dtype,
        device=device,
    )
    return (u.to(probs.device) < probs).to(probs.dtype)


def reparameterize(
    mu: torch.Tensor,
    log_sigma: torch.Tensor,
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Draw :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim \mathcal{N}(0, I)`.

    The randomness sits in :math:`\varepsilon`, which does not depend on the
    parameters, so gradients flow to :math:`\mu` and :math:`\log\sigma` through
    a deterministic function.

    Args:
        mu: :math:`\mu`, shape ``(B, Dz)``.
        log_sigma: :math:`\log\sigma`, broadcastable to ``mu`` (e.g. one shared scale).
        num_samples: :math:`K`.
        generator: optional seeded generator (on ``mu``'s device).

    Returns:
        ``(K, B, Dz)`` samples.

    >>> z = reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), num_samples=4)
    >>> z.shape
    torch.Size([4, 2, 3])
    """
    if torch.broadcast_shapes(mu.shape, log_sigma.shape) != mu.shape:
        raise ValueError(
            f"log_sigma must have mu's shape {tuple(mu.shape)} or broadcast to it, "
            f"got {tuple(log_sigma.shape)}"
        )
    eps = torch.randn(
        (num_samples, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator
    )
    return mu + torch.exp(log_sigma) * eps  # (K, B, Dz)


def all_binary_states(
    z_dim: int,
    start: int = 0,
    stop: int | None = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> torch.Tensor:
    """The binary vectors whose integer codes lie in ``[start, stop)``, shape ``(stop - start, z_dim)``.

    Row ``i`` holds the bits of ``start + i``, least significant bit first; by default
    every point of :math:`\\{0, 1\\}^{z\\_dim}`.

    >>> all_binary_states(2)
    tensor([[0., 0.],
            [1., 0.],
            [0., 1.],
            [1., 1.]])
    """
    if isinstance(z_dim, bool) or not isinstance(z_dim, int) or z_dim < 1:
        raise ValueError(f"z_dim must be a positive integer, got {z_dim!r}")
    stop = 2**z_dim if stop is None else stop
    codes = torch.arange(start, stop, device=device)
    bits = torch.arange(z_dim, device=device)
    return ((codes[:, None] >> bits) & 1).to(dtype)
