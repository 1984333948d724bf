"""Scoring any set of models on the same test images: one estimator, paired differences, exact checks."""

from __future__ import annotations

import math
import time

import torch

from .ae_gmm import AutoencoderGMM
from .densities import log_standard_normal
from .evaluate import elbo, iw_log_likelihood
from .gaussian_vae import GaussianVAE
from .quadrature import bernoulli_log_joint, log_marginal_2d
from .sbn import MAX_ENUMERATION_DIM

__all__ = [
    "integrate_refined",
    "integration_box",
    "markdown_table",
    "paired_difference",
    "score_model",
]


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    r"""Mean of ``a - b`` over the same images and its standard error, :math:`s_{a-b} / \sqrt N`.

    Scores of two models on the same images are correlated (a hard image is hard for both), so
    the spread of the per-image differences, not the two spreads, sets the error of the mean.

    >>> a = torch.tensor([-90.0, -120.0, -100.0, -110.0])
    >>> mean, se = paired_difference(a, a - torch.tensor([1.0, 2.0, 1.0, 2.0]))
    >>> round(mean, 3), round(se, 3)  # the two spreads are ~13 nats; the differences' ~0.58
    (1.5, 0.289)
    """
    if a.shape != b.shape or a.dim() != 1 or len(a) < 2:
        raise ValueError(
            f"a and b must be per-image scores of the same images, (N,) with N >= 2; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    d = (a - b).double()
    return d.mean().item(), (d.std() / math.sqrt(len(d))).item()


def _log_prior(model):
    """The model's prior density over a continuous latent, or None when it has none we can integrate."""
    if isinstance(model, AutoencoderGMM):
        return model.log_prior
    if isinstance(model, GaussianVAE):
        return log_standard_normal
    return None


def integration_box(model, sds: float = 8.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A rectangle of the latent plane that holds all but a negligible part of the prior's mass."""
    if isinstance(model, AutoencoderGMM):
        spread = (
            sds * torch.linalg.matrix_norm(model.gmm_scale_tril, ord=2)[:, None]
        )  # (C, 1)
        means = model.gmm_means.detach().double().cpu()
        return (means - spread.cpu()).min(0).values, (means + spread.cpu()).max(
            0
        ).values
    return torch.full((2,), -sds, dtype=torch.float64), torch.full(
        (2,), sds, dtype=torch.float64
    )


def _inference(model, x: torch.Tensor, fit: dict):
    """The model as scored, and the seconds it took to produce q for ``x`` (test-time inference)."""
    start = time.perf_counter()
    if hasattr(model, "encode"):
        with torch.no_grad():
            model.encode(x.to(model.device))  # timed only: log_weights encodes again
        return model, time.perf_counter() - start
    view = model.posterior_view(
        x, **fit
    )  # no encoder: fit q to each image, decoder frozen
    return view, time.perf_counter() - start


REFINE_ABOVE = 0.05
"""Nats: an image whose integral moves more than this on the coarser rule is integrated again."""


def integrate_refined(joint, x: torch.Tensor, box, fine: int = 96) -> dict:
    r""":func:`~vaecourse.quadrature.log_marginal_2d`, again at twice ``fine`` where the check fails.

    The check is ``|half - log_px|``, the change of the sum on every other point of the finest
    grid. An image whose check exceeds :data:`REFINE_ABOVE` (a posterior too narrow, or with
    separate modes, for the grid) is integrated once more on grids twice as fine.

    Returns:
        the dict of ``log_marginal_2d`` plus ``refined``, the indices of the images integrated
        again.
    """
    result = log_marginal_2d(joint, x, box, fine=fine)
    rough = ((result["half"] - result["log_px"]).abs() > REFINE_ABOVE).nonzero()[:, 0]
    if len(rough):
        again = log_marginal_2d(joint, x[rough.to(x.device)], box, fine=2 * fine)
        for key in ("log_px", "half"):
            result[key][rough] = again[key]
    result["refined"] = rough
    return result


@torch.no_grad()
def score_model(
    model,
    x: torch.Tensor,
    num_samples: int,
    fit: dict,
    num_integrated: int = 0,
    bound: bool = True,
) -> dict:
    r"""Score one model on ``x`` with the importance-weighted estimate, plus every exact check it allows.

    Args:
        model: a course model (``log_weights``, or ``posterior_view`` when it has no encoder).
        x: test images ``(N, D)``, the same for every model.
        num_samples: :math:`K` of the estimate.
        fit: keyword arguments of ``posterior_view`` for a model without an encoder.
        num_integrated: images (the first ones of ``x``) whose :math:`\log p(x)` is integrated
            over the latent plane, for a model with a 2-D continuous latent.
        bound: whether the ELBO is reported (False for a model not trained on one).

    Returns:
        a dict: ``iw`` ``(N,)``; ``elbo`` ``(N,)`` or None; ``exact`` ``(N,)`` (enumeration) or
        None; ``integral`` (the result of :func:`~vaecourse.quadrature.log_marginal_2d` on the
        first ``num_integrated`` images) or None; ``parameters``; ``inference_seconds``.
    """
    scored, seconds = _inference(model, x, fit)
    exact, integral = None, None
    if hasattr(model, "exact_log_likelihood") and model.z_dim <= MAX_ENUMERATION_DIM:
        exact = model.exact_log_likelihood(x)
    log_prior = _log_prior(model)
    if num_integrated and log_prior is not None and model.z_dim == 2:
        joint = bernoulli_log_joint(model.decode, log_prior)
        integral = integrate_refined(
            joint, x[:num_integrated].to(model.device), integration_box(model)
        )
    parameters = (
        model.num_parameters()
        + getattr(model, "num_variational_parameters", lambda: 0)()
    )
    rows = torch.arange(len(x))  # a q fitted to x (no encoder) has row n for image n
    iw = iw_log_likelihood(scored, x, num_samples, index=rows)
    return {
        "iw": iw,
        "elbo": elbo(scored, x, index=rows) if bound else None,
        "exact": exact,
        "integral": integral,
        "parameters": parameters,
        "inference_seconds": seconds,
    }


def markdown_table(header: list[str], rows: list[list[str]], align: str = "l") -> str:
    """A Markdown table: the first column left-aligned, the others by ``align`` (``"l"`` or ``"r"``).

    >>> print(markdown_table(["a", "b"], [["x", "1"]], align="r"))
    | a | b |
    | :-- | --: |
    | x | 1 |
    """
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row must have {len(header)} cells, like the header")
    rule = [":--"] + [("--:" if align == "r" else ":--")] * (len(header) - 1)
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
