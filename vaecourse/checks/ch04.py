"""Checks for the exercises of chapter 6 (score-function estimators and baselines)."""

from __future__ import annotations

import torch

from ..estimators import leave_one_out, score_function_term
from ._verdict import Case, Failed, call, compare, gen, run_check, verdict

__all__ = ["check_score_function_surrogate", "check_leave_one_out"]


@verdict("score_function_surrogate")
def check_score_function_surrogate(fn):
    """Check ``fn(signal, log_q, baseline)``: ``(K, B)`` values whose gradient is the score-function estimate.

    The value must be :math:`(f - c) \\log q`, the gradient with respect to ``log_q``
    must be :math:`f - c`, and no gradient may reach the signal or the baseline (they
    are held constant).

    >>> check_score_function_surrogate(score_function_term)
    ✓ score_function_surrogate: correct on 3 inputs, gradients included, signal and baseline held constant
    True
    >>> check_score_function_surrogate(lambda f, log_q, c: (f - c) * log_q)
    ✗ score_function_surrogate: on 4 samples of 3 examples, a scalar baseline: a gradient reaches the signal; detach it: the estimator differentiates log q only
    False
    """
    g = gen(0)
    cases = [
        (
            "4 samples of 3 examples, a scalar baseline",
            torch.randn(4, 3, generator=g) - 90.0,
            torch.randn(4, 3, generator=g) - 5.0,
            torch.tensor(-90.0),
        ),
        (
            "2 samples of 5 examples, one baseline per example",
            torch.randn(2, 5, generator=g),
            torch.randn(2, 5, generator=g),
            torch.randn(5, generator=g),
        ),
        (
            "3 samples of 2 examples, one baseline per sample (leave-one-out)",
            torch.randn(3, 2, generator=g),
            torch.randn(3, 2, generator=g),
            torch.randn(3, 2, generator=g),
        ),
    ]
    for label, signal, log_q, baseline in cases:
        signal, log_q, baseline = (
            t.clone().requires_grad_(True) for t in (signal, log_q, baseline)
        )
        out = call(fn, (signal, log_q, baseline), label=label)
        expected = score_function_term(signal, log_q, baseline)
        diff = compare(out, expected, atol=1e-5)
        if diff:
            raise Failed(f"on {label}: {diff}")
        if not out.requires_grad:
            raise Failed(
                f"on {label}: the output carries no gradient; log q must stay differentiable"
            )
        grads = call(
            torch.autograd.grad,
            (out.sum(), (signal, log_q, baseline)),
            {"allow_unused": True},
            label=f"{label}, backpropagating through the output",
        )
        for what, grad in (("the signal", grads[0]), ("the baseline", grads[2])):
            if grad is not None and bool(grad.abs().max() > 0):
                raise Failed(
                    f"on {label}: a gradient reaches {what}; detach it: "
                    "the estimator differentiates log q only"
                )
        diff = compare(
            grads[1],
            (signal - baseline).detach().expand_as(log_q),
            atol=1e-5,
            what="gradient with respect to log_q",
        )
        if diff:
            raise Failed(f"on {label}: {diff}")
    return f"correct on {len(cases)} inputs, gradients included, signal and baseline held constant"


def check_leave_one_out(fn) -> bool:
    """Check ``fn(signal)``: for each of the K samples, the mean signal of the other K - 1, shape ``(K, B)``.

    >>> check_leave_one_out(leave_one_out)
    ✓ leave_one_out: correct on 4 inputs
    True
    """
    g = gen(1)
    cases = [
        Case("K = 4 samples of 3 examples", (torch.randn(4, 3, generator=g) - 100.0,)),
        Case(
            "K = 2 (each sample's baseline is the other sample)",
            (torch.randn(2, 6, generator=g),),
        ),
        Case("K = 16 samples of one example", (torch.randn(16, 1, generator=g),)),
        Case("float64 signals", (torch.randn(5, 4, generator=g, dtype=torch.float64),)),
    ]
    return run_check("leave_one_out", fn, leave_one_out, cases, atol=1e-4)
