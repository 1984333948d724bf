"""Checks for the exercises of chapter 11 (comparing the models)."""

from __future__ import annotations

import math

import torch

from ..densities import log_mean_exp
from ._verdict import Case, gen, run_check

__all__ = ["check_iw_estimate", "check_bits_per_pixel"]


def _iw_estimate(log_w: torch.Tensor) -> torch.Tensor:
    """Reference: log (1/K) sum_k exp(log_w[k]) per example, ``(B,)``."""
    return log_mean_exp(log_w, dim=0)


def check_iw_estimate(fn) -> bool:
    """Check ``fn(log_w)``: the importance-weighted estimate from log-weights ``(K, B)``, returning ``(B,)``.

    >>> check_iw_estimate(_iw_estimate)
    ✓ iw_estimate: correct on 3 inputs
    True
    """
    cases = [
        Case(
            "log-weights of 10 samples for 4 images",
            (torch.randn(10, 4, generator=gen(0), dtype=torch.float64),),
        ),
        Case(
            "log-weights near -100 nats (exp underflows in float32)",
            (-100 + 5 * torch.randn(50, 3, generator=gen(1)),),
        ),
        Case(
            "one sample per image (K = 1 is the ELBO estimate)",
            (-90 + torch.randn(1, 6, generator=gen(2)),),
        ),
    ]
    return run_check("iw_estimate", fn, _iw_estimate, cases, atol=1e-5, rtol=1e-6)


def _bits_per_pixel(log_px: torch.Tensor, num_pixels: int) -> torch.Tensor:
    """Reference: -log2 p(x) / D."""
    return -log_px / (num_pixels * math.log(2))


def check_bits_per_pixel(fn) -> bool:
    """Check ``fn(log_px, num_pixels)``: negative log-likelihoods in nats turned into bits per pixel.

    >>> check_bits_per_pixel(_bits_per_pixel)
    ✓ bits_per_pixel: correct on 2 inputs
    True
    """
    cases = [
        Case(
            "log-likelihoods of MNIST images",
            (torch.tensor([-88.7, -100.0, -543.4]), 784),
        ),
        Case(
            "a single image of 4 pixels",
            (torch.tensor([-math.log(16)], dtype=torch.float64), 4),
        ),
    ]
    return run_check("bits_per_pixel", fn, _bits_per_pixel, cases, atol=1e-6, rtol=1e-5)
