"""Every check against hostile answers: one ✗ line, no exception, no hang, no trace."""

from __future__ import annotations

import ast
import contextlib
import io
import math
import random
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import vaecourse.checks as checks
from vaecourse.checks import _guard
from vaecourse.checks._verdict import compare
from vaecourse.exercises import find_notebooks, is_check_cell, is_solution_cell

BOOK = Path(__file__).resolve().parents[1] / "book"
LIMIT = 0.5  # seconds per call during these tests


def _right_answers() -> dict[str, object]:
    """Each check's right answer: the book's solution cells,, passed as in the book."""
    answers = {}
    for path in find_notebooks([BOOK]):
        cells = nbformat.read(path, as_version=4).cells
        namespace: dict = {}
        for cell in filter(is_solution_cell, cells):
            exec(compile(cell.source, f"{path.name}:solution", "exec"), namespace)
        for cell in filter(is_check_cell, cells):
            for node in ast.walk(ast.parse(cell.source)):
                name = getattr(getattr(node, "func", None), "id", "") or ""
                if (
                    isinstance(node, ast.Call)
                    and name.startswith("check_")
                    and node.args
                ):
                    answers[name] = namespace[node.args[0].id]
    return answers


RIGHT = _right_answers()
CHECKS = sorted(checks.__all__)


def _map_output(out, tensor_fn, number_fn):
    if isinstance(out, torch.Tensor):
        return tensor_fn(out)
    if isinstance(out, (tuple, list)):
        return type(out)(_map_output(o, tensor_fn, number_fn) for o in out)
    if isinstance(out, (int, float)):
        return number_fn(out)
    return out


def _first_tensor(values):
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (tuple, list)):
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def _loops(right):
    def answer(*args, **kwargs):
        while True:
            pass

    return answer


def _sleeps(right):
    return lambda *args, **kwargs: time.sleep(3600)


def _raising(error):
    def make(right):
        def answer(*args, **kwargs):
            raise error

        return answer

    return make


def _exits(right):
    return lambda *args, **kwargs: sys.exit(3)


def _transformed(tensor_fn, number_fn):
    def make(right):
        return lambda *args, **kwargs: _map_output(
            right(*args, **kwargs), tensor_fn, number_fn
        )

    return make


def _mutates_its_input(right):
    def answer(*args, **kwargs):
        out = right(*args, **kwargs)
        with torch.no_grad():
            _first_tensor(args).add_(1)
        return out

    return answer


def _changes_torch_defaults(right):
    def answer(*args, **kwargs):
        out = right(*args, **kwargs)
        torch.manual_seed(0)
        np.random.seed(0)
        torch.set_default_dtype(torch.float64)
        return out

    return answer


def _moves_default_device(right):
    def answer(*args, **kwargs):
        torch.set_default_device("meta")
        return right(*args, **kwargs)

    return answer


NAN, INF = float("nan"), float("inf")
HOSTILE = {
    "loops forever": (_loops, f"took longer than {LIMIT:g} s"),
    "sleeps forever": (_sleeps, f"took longer than {LIMIT:g} s"),
    "raises": (_raising(ValueError("boom")), "raised ValueError: boom"),
    "calls sys.exit": (_exits, "raised SystemExit: 3"),
    "raises KeyboardInterrupt": (
        _raising(KeyboardInterrupt()),
        "raised KeyboardInterrupt",
    ),
    "returns NaN": (
        _transformed(
            lambda t: t * NAN if t.is_floating_point() else t.float() * NAN,
            lambda x: NAN,
        ),
        "NaN",
    ),
    "returns inf": (
        _transformed(
            lambda t: t + INF if t.is_floating_point() else t.float() + INF,
            lambda x: INF,
        ),
        "inf",
    ),
    "returns a string": (
        _transformed(lambda t: "an answer", lambda x: "an answer"),
        "str",
    ),
    "returns a wrong shape": (
        _transformed(lambda t: t.unsqueeze(0), lambda x: [x, x]),
        "",
    ),
    "returns a meta tensor": (
        _transformed(lambda t: t.to("meta"), lambda x: torch.tensor(x, device="meta")),
        "meta",
    ),
    "changes its input in place": (_mutates_its_input, "in place"),
    "changes torch's defaults": (_changes_torch_defaults, "default dtype"),
    "moves the default device": (_moves_default_device, ""),
}


def _global_state():
    return (
        torch.get_rng_state(),
        torch.get_default_dtype(),
        torch.get_default_device(),
        torch.is_grad_enabled(),
        np.random.get_state()[1].copy(),
        random.getstate(),
        signal.getsignal(signal.SIGALRM),
        signal.getitimer(signal.ITIMER_REAL),
    )


def _assert_same_state(before, after):
    assert torch.equal(before[0], after[0]), "the global torch random state changed"
    assert before[1:4] == after[1:4], (
        "torch's default dtype, device or grad mode changed"
    )
    assert np.array_equal(before[4], after[4]), "numpy's random state changed"
    assert before[5] == after[5], "Python's random state changed"
    assert before[6] == after[6] and after[7] == (0.0, 0.0), "the alarm was left set"


def test_every_check_has_a_right_answer_in_the_book():
    assert set(RIGHT) == set(CHECKS)


@pytest.mark.parametrize("check", CHECKS)
def test_the_right_answer_passes_and_leaves_no_trace(check, capsys):
    before = _global_state()
    assert getattr(checks, check)(RIGHT[check]) is True
    _assert_same_state(before, _global_state())
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith("\u2713 "), printed


def _takes_tensors(check: str) -> bool:
    """Whether the check passes the answer any tensor (which the answer could change in place)."""
    seen = []

    def probe(*args, **kwargs):
        seen.append(_first_tensor([*args, *kwargs.values()]) is not None)
        return RIGHT[check](*args, **kwargs)

    with contextlib.redirect_stdout(io.StringIO()):
        getattr(checks, check)(probe)
    return any(seen)


def _returns_values(check: str) -> bool:
    """Whether the right answer returns tensors or numbers (which the output changes alter)."""
    outputs = []

    def probe(*args, **kwargs):
        out = RIGHT[check](*args, **kwargs)
        outputs.append(out)
        return out

    with contextlib.redirect_stdout(io.StringIO()):
        getattr(checks, check)(probe)
    return any(isinstance(o, (torch.Tensor, int, float, tuple, list)) for o in outputs)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("check", CHECKS)
def test_a_hostile_answer_gets_a_cross(check, hostile, capsys, monkeypatch):
    monkeypatch.setattr(_guard, "TIME_LIMIT", LIMIT)
    if hostile == "changes its input in place" and not _takes_tensors(check):
        pytest.skip("the check passes only numbers, which cannot be changed in place")
    make, message = HOSTILE[hostile]
    if (
        make.__name__ == "make"
        and hostile.startswith("returns ")
        and not _returns_values(check)
    ):
        pytest.skip("the answer returns a model, which these changes leave as it is")
    if hostile.endswith("forever"):
        message = (
            "took longer than"  # the limit is a multiple of LIMIT for training answers
        )
    answer = make(RIGHT[check])
    before = _global_state()
    start = time.monotonic()
    ok = getattr(checks, check)(answer)
    elapsed = time.monotonic() - start
    after = _global_state()
    printed = capsys.readouterr().out
    assert ok is False, printed
    assert printed.count("\n") == 1 and printed.startswith("\u2717 "), printed
    assert message in printed, printed
    assert elapsed < 4 * LIMIT + 10, f"the check took {elapsed:.1f} s"
    _assert_same_state(before, after)


def test_the_check_that_seeds_its_models_leaves_the_global_seed_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert checks.check_elbo_single_sample(RIGHT["check_elbo_single_sample"])
    assert torch.equal(torch.rand(3), expected)


def test_outside_the_main_thread_there_is_no_limit_and_the_verdict_says_so(capsys):
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            checks.check_pixels_on_per_digit(RIGHT["check_pixels_on_per_digit"])
        )
    )
    worker.start()
    worker.join(60)
    assert results == [True]
    assert "(no time limit: running outside the main thread)" in capsys.readouterr().out


def test_an_all_nan_reparameterised_sample_fails(capsys):
    def nan_sample(mu, log_sigma, num_samples, generator):
        eps = torch.randn(num_samples, *mu.shape, generator=generator)
        return (mu + log_sigma.exp() * eps) * NAN

    assert checks.check_reparameterized_sample(nan_sample) is False
    assert "NaN or inf" in capsys.readouterr().out


def test_compare_accepts_non_finite_values_only_where_the_reference_has_them():
    reference = torch.tensor([1.0, INF, -INF, NAN])
    assert compare(reference.clone(), reference) is None
    assert "+inf" in compare(torch.tensor([INF, INF, -INF, NAN]), reference)
    assert "no -inf" in compare(torch.tensor([1.0, INF, 1.0, NAN]), reference)
    assert "NaN" in compare(torch.tensor([1.0, INF, -INF, 0.0]), reference)
    assert "is inf" in compare(math.inf, 2.0)
    assert "device" in compare(torch.zeros(2, device="meta"), torch.zeros(2))


def test_an_endless_answer_is_stopped_inside_a_jupyter_kernel():
    """The limit works where students run checks: in a kernel's main thread."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    source = (
        "from vaecourse.checks import _guard, check_leave_one_out\n"
        "_guard.TIME_LIMIT = 1.0\n\n\n"
        "def leave_one_out(signal):\n"
        "    while True:\n"
        "        pass\n\n\n"
        "assert check_leave_one_out(leave_one_out) is False"
    )
    nb = new_notebook(cells=[new_code_cell(source)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert printed.startswith(
        "\u2717 leave_one_out: on K = 4 samples of 3 examples: took "
    )
    assert "took longer than 1 s" in printed and printed.count("\n") == 1


def test_a_mixture_sampler_with_a_nan_square_root_gets_a_cross(capsys):
    def sample_mixture(weights, means, covariances, n, generator=None):
        k = torch.multinomial(weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, 2, 1, generator=generator)
        # elementwise square root: NaN where a covariance is negative
        return means[k] + (covariances.sqrt()[k] @ eps).squeeze(-1)

    assert checks.check_sample_mixture(sample_mixture) is False
    assert "NaN or inf" in capsys.readouterr().out


class _BackwardRaises(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("no gradient today")


@pytest.mark.parametrize(
    "check",
    [
        "check_bernoulli_nll",
        "check_reparameterized_sample",
        "check_score_function_surrogate",
        "check_kl_diag_gaussian",
    ],
)
def test_an_answer_whose_backward_raises_gets_a_cross(check, capsys):
    right = RIGHT[check]
    assert getattr(checks, check)(lambda *a: _BackwardRaises.apply(right(*a))) is False
    printed = capsys.readouterr().out
    assert (
        "raised RuntimeError: no gradient today" in printed and printed.count("\n") == 1
    )
