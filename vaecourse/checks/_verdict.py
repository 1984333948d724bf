"""Shared machinery of the checks: run an answer and the reference, say what differs.

A check calls the student's function and the reference on the same seeded inputs,
compares the results (type, shape, dtype, device, values, and optionally gradients),
prints ONE line, and returns True or False. It never raises and never hangs: whatever
the student's code does (raise, loop, exit, return NaN or a tensor on another device,
change its inputs) is the verdict, and it leaves no trace (random states and torch's
defaults are put back, see ``_guard.py``).

A chapter's checks (``checks/chNN.py``) are a few lines each::

    def check_double(fn) -> bool:
        cases = [Case("a batch", (torch.randn(4, 3, generator=gen(0)),))]
        return run_check("double", fn, _double, cases)

A check that needs more than a comparison with a reference is a function decorated with
:func:`verdict`: it calls the answer through :func:`call`, raises :class:`Failed` with
what is wrong, and returns what is right.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._guard import Failed, TimeLimitExceeded, call, clone, no_limit_reason, no_trace

__all__ = [
    "Case",
    "Failed",
    "call",
    "gen",
    "compare",
    "expect_tensor",
    "run_check",
    "report",
    "verdict",
]

PASS, FAIL = "\u2713", "\u2717"  # check mark, ballot x


@dataclass
class Case:
    """One set of inputs: ``fn(*args, **kwargs)``, named by ``label`` in the verdict."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def gen(seed: int) -> torch.Generator:
    """A seeded CPU generator, so that every check draws the same inputs every time.

    >>> torch.equal(torch.rand(2, generator=gen(1)), torch.rand(2, generator=gen(1)))
    True
    """
    return torch.Generator().manual_seed(seed)


def report(name: str, ok: bool, message: str) -> bool:
    """Print the one-line verdict and return ``ok``.

    >>> report("double", False, "not implemented yet")
    ✗ double: not implemented yet
    False
    """
    message = " ".join(
        str(message).split()
    )  # one line, whatever an error message holds
    print(f"{PASS if ok else FAIL} {name}: {message}")
    return ok


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    try:
        text = " ".join(f"{type(value).__name__} {value!r}".split())
    except Exception:  # a repr that fails says nothing more than the type
        text = type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _non_finite(a: torch.Tensor, e: torch.Tensor) -> str | None:
    """Where ``a`` has NaN or inf that ``e`` lacks (or the reverse), or None."""
    for what, test in (
        ("NaN", torch.isnan),
        ("+inf", torch.isposinf),
        ("-inf", torch.isneginf),
    ):
        if not torch.equal(test(a), test(e)):
            return (
                f"{int((test(a) & ~test(e)).sum())} {what} "
                "where the expected value has none"
                if (test(a) & ~test(e)).any()
                else f"no {what} where the expected value has one"
            )
    return None


def compare(
    actual: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    what: str = "output",
) -> str | None:
    """Describe the first difference between ``actual`` and ``expected`` (None if none).

    Tensors must agree in shape, dtype, device and values (``|a - e| <= atol + rtol
    |e|``); NaN and inf only where the expected value has them; tuples, lists and dicts
    are compared item by item; numbers within the same tolerance.

    >>> compare(torch.zeros(3), torch.zeros(3)) is None
    True
    >>> compare(torch.zeros(2), torch.zeros(3))
    'wrong shape of the output: got (2,), expected (3,)'
    >>> compare(torch.ones(3), torch.zeros(3))
    'wrong values of the output: max abs diff 1 (tolerance 1e-06 + 1e-05 * |expected|)'
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return f"the {what} should be a torch.Tensor, got {_describe(actual)}"
        if actual.shape != expected.shape:
            got, wanted = tuple(actual.shape), tuple(expected.shape)
            return f"wrong shape of the {what}: got {got}, expected {wanted}"
        if actual.dtype != expected.dtype:
            got, wanted = actual.dtype, expected.dtype
            return f"wrong dtype of the {what}: got {got}, expected {wanted}"
        if actual.device != expected.device:
            got, wanted = actual.device, expected.device
            return f"wrong device of the {what}: got {got}, expected {wanted}"
        a, e = actual.detach(), expected.detach()
        if e.is_floating_point() or e.is_complex():
            bad = _non_finite(a, e)
            if bad:
                return f"the {what} has {bad}"
            finite = torch.isfinite(e)
            a, e = a[finite], e[finite]
            if not torch.allclose(a, e, atol=atol, rtol=rtol):
                diff = (a - e).abs().max().item()
                tolerance = f"tolerance {atol:g} + {rtol:g} * |expected|"
                return (
                    f"wrong values of the {what}: max abs diff {diff:.3g} ({tolerance})"
                )
        elif not torch.equal(a, e):
            wrong = (a != e).sum().item()
            return f"wrong values of the {what}: {wrong} of {e.numel()} entries differ"
        return None
    if isinstance(expected, np.ndarray):
        return compare(
            torch.as_tensor(actual) if isinstance(actual, np.ndarray) else actual,
            torch.as_tensor(expected),
            atol=atol,
            rtol=rtol,
            what=what,
        )
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            got = _describe(actual)
            return (
                f"the {what} should be a sequence of {len(expected)} items, got {got}"
            )
        for i, (a, e) in enumerate(zip(actual, expected)):
            diff = compare(a, e, atol=atol, rtol=rtol, what=f"{what}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            got = _describe(actual)
            return (
                f"the {what} should be a dict with keys {sorted(expected)}, got {got}"
            )
        for key in expected:
            diff = compare(
                actual[key],
                expected[key],
                atol=atol,
                rtol=rtol,
                what=f"{what}[{key!r}]",
            )
            if diff:
                return diff
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (int, float, np.number)) or isinstance(actual, bool):
            return f"the {what} should be a number, got {_describe(actual)}"
        if math.isfinite(expected) and not math.isfinite(actual):
            got = "NaN" if math.isnan(actual) else actual
            return f"the {what} is {got}, expected {expected:.6g}"
        if math.isnan(expected) != math.isnan(actual) or abs(
            actual - expected
        ) > atol + rtol * abs(expected):
            return f"wrong {what}: got {actual:.6g}, expected {expected:.6g}"
        return None
    if actual != expected:
        return f"wrong {what}: got {_describe(actual)}, expected {_describe(expected)}"
    return None


def expect_tensor(
    value: Any, shape: tuple, *, dtype: torch.dtype | None = None, what: str = "output"
) -> torch.Tensor:
    """Raise :class:`Failed` unless ``value`` is a finite CPU tensor of this shape."""
    if not isinstance(value, torch.Tensor):
        raise Failed(f"the {what} should be a torch.Tensor, got {_describe(value)}")
    if tuple(value.shape) != tuple(shape):
        raise Failed(
            f"wrong shape of the {what}: got {tuple(value.shape)}, "
            f"expected {tuple(shape)}"
        )
    if dtype is not None and value.dtype != dtype:
        raise Failed(f"wrong dtype of the {what}: got {value.dtype}, expected {dtype}")
    if value.device != torch.device("cpu"):
        raise Failed(f"wrong device of the {what}: got {value.device}, expected cpu")
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise Failed(
            f"the {what} has {int((~torch.isfinite(value)).sum())} NaN or inf entries"
        )
    return value


def verdict(name: str) -> Callable:
    """A check from its body ``body(fn, ...) -> str``: print a verdict, return bool.

    The body returns the message of a ✓ and raises :class:`Failed` for a ✗. Anything
    else it raises (the check choking on a strange output) is a ✗ that names the
    exception. Random states and torch's defaults are put back afterwards.

    >>> @verdict("half")
    ... def check_half(fn):
    ...     if call(fn, (4.0,)) != 2.0:
    ...         raise Failed("half of 4 should be 2")
    ...     return "correct"
    >>> check_half(lambda x: x / 2)
    ✓ half: correct
    True
    >>> check_half(lambda x: x.nope)
    ✗ half: raised AttributeError: 'float' object has no attribute 'nope'
    False
    """

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def checked(fn, *args, **kwargs) -> bool:
            try:
                with no_trace():
                    if not callable(fn):
                        raise Failed(
                            f"expected the function {name}, got {_describe(fn)}"
                        )
                    ok, message = True, body(fn, *args, **kwargs)
            except Failed as failure:
                ok, message = False, str(failure)
            except (
                TimeLimitExceeded
            ) as error:  # the alarm fired just as the answer returned
                ok, message = False, str(error)
            except (
                BaseException
            ) as error:  # the check's own handling of an output it did not foresee
                ok, message = (
                    False,
                    "the check could not use the output: "
                    f"{type(error).__name__}: {error}",
                )
            reason = no_limit_reason()
            if reason:
                message += f" (no time limit: {reason})"
            return report(name, ok, message)

        checked.__annotations__ = {"fn": "Callable", "return": "bool"}
        return checked

    return decorate


def _grad_inputs(args: tuple, kwargs: dict) -> list[tuple[str, torch.Tensor]]:
    named = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + [
        (f"`{k}`", v) for k, v in kwargs.items()
    ]
    return [
        (name, t)
        for name, t in named
        if isinstance(t, torch.Tensor) and t.requires_grad
    ]


def _backward_grads(
    output: Any, inputs: list[torch.Tensor], seed: int
) -> list[torch.Tensor | None]:
    """Gradients of a fixed random projection of ``output`` w.r.t. ``inputs``."""
    outs = [
        o
        for o in (output if isinstance(output, (tuple, list)) else [output])
        if isinstance(o, torch.Tensor)
    ]
    g = gen(seed)
    total = sum(
        (o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum()
        for o in outs
        if o.is_floating_point()
    )
    if not isinstance(total, torch.Tensor) or not total.requires_grad:
        return [None] * len(inputs)
    return list(torch.autograd.grad(total, inputs, allow_unused=True))


def run_check(
    name: str,
    student_fn: Callable,
    reference_fn: Callable,
    cases: Sequence[Case],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    check_grad: bool = False,
) -> bool:
    """Compare ``student_fn`` with ``reference_fn`` on every case; print a verdict line.

    Returns True if they agree on every case.

    With ``check_grad``, inputs created with ``requires_grad=True`` must also receive
    the reference's gradients (of a fixed random projection of the output).

    >>> cases = [Case("a vector", (torch.arange(3.0),))]
    >>> run_check("double", lambda x: 2 * x, lambda x: x + x, cases)
    ✓ double: correct on 1 input
    True
    >>> triple = lambda x: 3 * x
    >>> run_check("double", triple, lambda x: x + x, cases)  # doctest: +ELLIPSIS
    ✗ double: on a vector: wrong values of the output: max abs diff 2 (tolerance ...)
    False
    """
    return verdict(name)(_agrees_on_every_case)(
        student_fn, reference_fn, cases, atol, rtol, check_grad
    )


def _agrees_on_every_case(
    student_fn, reference_fn, cases, atol, rtol, check_grad
) -> str:
    for seed, case in enumerate(cases):
        expected_args, expected_kwargs = clone(case.args), clone(case.kwargs)
        expected = reference_fn(
            *expected_args, **expected_kwargs
        )  # a failure here is a bug of the check
        args, kwargs = clone(case.args), clone(case.kwargs)
        actual = call(student_fn, args, kwargs, label=case.label)
        diff = compare(actual, expected, atol=atol, rtol=rtol)
        if diff:
            raise Failed(f"on {case.label}: {diff}")
        if check_grad:
            reference_inputs = _grad_inputs(expected_args, expected_kwargs)
            student_inputs = _grad_inputs(args, kwargs)
            expected_grads = _backward_grads(
                expected, [t for _, t in reference_inputs], seed
            )
            actual_grads = call(
                _backward_grads,
                (actual, [t for _, t in student_inputs], seed),
                label=f"{case.label}, backpropagating through the output",
            )
            for (label, _), a, e in zip(student_inputs, actual_grads, expected_grads):
                if e is None:
                    continue
                if a is None:
                    raise Failed(
                        f"on {case.label}: no gradient reaches {label} "
                        "(detached, or computed outside autograd?)"
                    )
                diff = compare(
                    a, e, atol=atol, rtol=rtol, what=f"gradient with respect to {label}"
                )
                if diff:
                    raise Failed(f"on {case.label}: {diff}")
    inputs = f"{len(cases)} input{'s' if len(cases) != 1 else ''}"
    return f"correct on {inputs}" + (", gradients included" if check_grad else "")
