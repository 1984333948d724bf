r"""Benchmarks: training speed against the matmul ceiling, test log-likelihood against the literature,
and the execution time of every chapter.

Three commands, each printing a table (figures are printed, never asserted)::

    python -m vaecourse.bench speed   [--device cpu] [--batch-sizes 128 512] [--seconds 1] [--repeats 7]
    python -m vaecourse.bench quality --model gaussian|binary --minutes 20 [--eval-samples 5000]
    python -m vaecourse.bench book    [--mode quick|full|both] [--chapters 00_data 03_gaussian_vae]

**speed** times the course's training loop (:func:`vaecourse.train`: the whole data set as
one tensor on the device, batches drawn as index tensors, Adam) and sets it beside two
ceilings measured in the same run, converted to images per second through the model's
FLOP count:

* the FLOP/s of the matrix products the training step performs, at the model's own shapes
  (the forward ``x W^T`` of every linear layer and the two products of its backward pass),
  timed alone: the speed of a step that did nothing but its matrix products;
* the FLOP/s of one large square product (2048 on a CPU, 8192 on a GPU).

The FLOP count covers the linear layers only: a layer with :math:`n_\text{in}` inputs and
:math:`n_\text{out}` outputs costs :math:`2 n_\text{in} n_\text{out}` per image forward and
:math:`4 n_\text{in} n_\text{out}` backward (the gradients of the weights and of the input), except
the first encoder layer, whose input (the data) needs no gradient:
:math:`\text{FLOP/image} = \sum_\ell 6\, n_\text{in} n_\text{out} - 2\, D\, h_1 \approx 6 \times \text{weights}`,
with the decoder's layers counted once per sample of :math:`z` (``train_samples``).
Elementwise work (activations, the Bernoulli log-likelihood, Adam) is not counted: it is
what separates a step from its ceiling. The same step is also timed through a loop written the
common way, a :class:`torch.utils.data.DataLoader` over a dataset read one item at a time
(``__getitem__``) at batch 128 with ``loss.item()`` logged every step, so that the gain of the
course's loop is measured. Every figure is the median over ``--repeats`` rounds, each round
timing the ceilings, the course's loop and the reference loop back to back, so a machine shared
with other jobs slows all of them alike; the ratios are medians of per-round ratios.

**quality** trains the best Gaussian-latent (or binary-latent) configuration of the course for
a wall-clock budget and prints the test log-likelihood by importance sampling (K = 5000 by
default) beside the published figures. The configurations, and why, are in
:data:`QUALITY_CONFIGS`.

**book** executes every chapter listed in ``_toc.yml`` (in that order) with a fresh kernel
(nbclient), in quick and/or full mode, with a fresh checkpoint folder per mode so that a
full-mode time includes training, and prints a table of seconds per chapter (Markdown, also
written as JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "linear_shapes",
    "training_flops_per_image",
    "time_matmul_ceiling",
    "time_square_matmul",
    "time_course_loop",
    "time_reference_loop",
    "speed",
    "quality",
    "book",
    "toc_chapters",
    "QUALITY_CONFIGS",
    "PUBLISHED",
    "main",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

PUBLISHED = [
    ("VAE, 784-200-200-50 tanh, k=1 (Burda et al. 2016)", -88.71),
    ("IWAE, same, k=50 (Burda et al. 2016)", -87.10),
    ("VAE, 784-400-40 ReLU (pythae reproduction)", -89.78),
    ("SBN, 200 binary latents, nonlinear, NVIL: training ELBO (RELAX table)", -101.5),
    ("SBN, 200 binary latents, linear, NVIL: training ELBO (RELAX table)", -112.5),
]
"""Published test log-likelihoods (nats, static binarized MNIST) from ``shared/COURSE.md``."""


# ----------------------------------------------------------------------------------------
# Small helpers


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too) with right-aligned numbers.

    >>> print(_format_table(["a", "b"], [[1, "x"]]))
    | a | b |
    |--:|:--|
    | 1 | x |
    """
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(header))]
    lines = ["| " + " | ".join(cells[0]) + " |",
             "|" + "|".join("--:" if n else ":--" for n in numeric) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _device(name: str | None) -> torch.device:
    from .runtime import default_device

    device = torch.device(name) if name else default_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: CUDA is not available on this machine")
    return device


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


# ----------------------------------------------------------------------------------------
# FLOP counts and ceilings


def linear_shapes(model: nn.Module) -> list[tuple[str, int, int, int]]:
    """``(name, n_in, n_out, copies)`` for every linear layer of an encoder/decoder model.

    ``copies`` is how many rows per image the layer sees in a training step: 1 for the
    encoder, the number of training samples of :math:`z` for the decoder.

    >>> from vaecourse.gaussian_vae import GaussianVAE
    >>> linear_shapes(GaussianVAE(x_dim=784, z_dim=20, hidden=(400,)))
    [('encoder.0', 784, 400, 1), ('encoder.2', 400, 40, 1), ('decoder.0', 20, 400, 1), ('decoder.2', 400, 784, 1)]
    """
    samples = int(getattr(model, "train_samples", 1)) * int(getattr(model, "iw_samples", 1))
    samples = max(samples, int(getattr(model, "num_samples", 1)))
    shapes = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            copies = samples if name.startswith("decoder") else 1
            shapes.append((name, module.in_features, module.out_features, copies))
    if not shapes:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers to count")
    return shapes


def training_flops_per_image(model: nn.Module) -> int:
    r"""Floating-point operations of the linear layers in one training step, per image.

    .. math:: \sum_\ell c_\ell\,(2 + 2 + 2\,[\ell \text{ needs an input gradient}])\, n_\text{in} n_\text{out}

    (forward, weight gradient, input gradient; :math:`c_\ell` copies per image), which is
    :math:`6 \times` the weights of the linear layers less the first layer's input gradient.

    >>> from vaecourse.gaussian_vae import GaussianVAE
    >>> training_flops_per_image(GaussianVAE(x_dim=784, z_dim=20, hidden=(400,)))
    3280000
    """
    total = 0
    for i, (_, n_in, n_out, copies) in enumerate(linear_shapes(model)):
        per_copy = 6 * n_in * n_out if i > 0 else 4 * n_in * n_out  # the data need no gradient
        total += copies * per_copy
    return total


def _layer_products(model: nn.Module, batch_size: int, device: torch.device):
    """The operands of every matrix product of one training step, at the model's shapes."""
    products = []
    for i, (_, n_in, n_out, copies) in enumerate(linear_shapes(model)):
        rows = batch_size * copies
        x = torch.randn(rows, n_in, device=device)
        w = torch.randn(n_out, n_in, device=device)
        b = torch.randn(n_out, device=device)
        g = torch.randn(rows, n_out, device=device)
        products.append(("addmm", b, x, w.t()))  # forward: (rows, n_out)
        products.append(("mm", g.t(), x))  # weight gradient: (n_out, n_in)
        if i > 0:
            products.append(("mm", g, w))  # input gradient: (rows, n_in)
    return products


def _run_products(products) -> None:
    for kind, *args in products:
        if kind == "addmm":
            torch.addmm(*args)
        else:
            torch.mm(*args)


def time_matmul_ceiling(model: nn.Module, batch_size: int, device: torch.device, steps: int) -> float:
    """Seconds per training step spent in the step's matrix products alone (``steps`` timed)."""
    products = _layer_products(model, batch_size, device)
    _run_products(products)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        _run_products(products)
    _sync(device)
    return (time.perf_counter() - start) / steps


def time_square_matmul(n: int, device: torch.device, reps: int = 3) -> float:
    """FLOP/s of an ``(n, n) @ (n, n)`` fp32 product (best of ``reps`` after a warm-up)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    _sync(device)
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


# ----------------------------------------------------------------------------------------
# The training loops being timed


def time_course_loop(model, x: torch.Tensor, batch_size: int, steps: int, optimizer, seed: int = 0) -> float:
    """Seconds per step of :func:`vaecourse.train` itself, for one epoch of ``steps`` batches.

    ``train`` measures its own time (``History.seconds``: the steps of the epoch, the device
    synchronised, the set-up and validation excluded).
    """
    from .train import train

    history = train(model, x[: steps * batch_size], epochs=1, batch_size=batch_size, optimizer=optimizer,
                    progress=False, seed=seed, device=x.device)
    return history.seconds / steps


class _ItemDataset(torch.utils.data.Dataset):
    """A data set read one image at a time, as most tutorials write it."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def time_reference_loop(model, x: torch.Tensor, batch_size: int, steps: int, optimizer) -> float:
    """Seconds per step of the common loop: a shuffling DataLoader over per-item access, batches
    moved to the device, and ``loss.item()`` logged every step."""
    device = model.device
    loader = torch.utils.data.DataLoader(_ItemDataset(x[: steps * batch_size].cpu()), batch_size=batch_size,
                                         shuffle=True)
    model.train()
    running = 0.0
    _sync(device)
    start = time.perf_counter()
    for xb in loader:
        xb = xb.to(device)
        optimizer.zero_grad()
        loss, _ = model.training_loss(xb)
        loss.backward()
        optimizer.step()
        running += loss.item()
    _sync(device)
    return (time.perf_counter() - start) / steps


# ----------------------------------------------------------------------------------------
# speed


def _speed_models() -> list[tuple[str, Callable[[], nn.Module]]]:
    """The course's Gaussian VAE and the chapter-3 models (their widths read from ``zoo/ch03.py``)."""
    from .data import IMAGE_SIZE
    from .gaussian_vae import GaussianVAE

    hidden = _chapter3_hidden()
    label = "chapter 3" if hidden else "chapter 3 not found: assumed"
    hidden = hidden or [512, 256]
    models = [("VAE 784-400-20 (course default)", lambda: GaussianVAE(x_dim=IMAGE_SIZE, z_dim=20, hidden=(400,)))]
    for z_dim in (20, 2):  # chapter 3 trains a 20-D model (scored) and a 2-D one (drawn)
        name = f"VAE 784-{'-'.join(str(h) for h in hidden)}-{z_dim}"
        if name != "VAE 784-400-20":
            models.append((f"{name} ({label})", lambda z_dim=z_dim: GaussianVAE(x_dim=IMAGE_SIZE, z_dim=z_dim,
                                                                                 hidden=hidden)))
    return models


def _chapter3_hidden() -> list[int] | None:
    """The hidden widths of chapter 3's models (``vaecourse.zoo.ch03.SETTINGS``), or None when absent."""
    try:
        from .zoo import ch03
    except Exception:  # noqa: BLE001 - an absent or broken chapter module means "use the fallback"
        return None
    settings = getattr(ch03, "SETTINGS", None)
    if isinstance(settings, dict) and "hidden" in settings:
        return [int(h) for h in settings["hidden"]]
    return None


def speed(device: str | None = None, batch_sizes: Sequence[int] = (128, 512), seconds: float = 1.0,
          repeats: int = 7, reference_batch: int = 128, square: int | None = None,
          n_images: int = 50_000, fused_adam: bool = True, out=None) -> list[dict]:
    """Time the course's training step against the matmul ceiling; print and return the table rows."""
    out = out or sys.stdout
    device = _device(device)
    if repeats < 1 or seconds <= 0:
        raise ValueError(f"repeats must be >= 1 and seconds > 0, got {repeats} and {seconds}")
    if any(b < 1 for b in batch_sizes):
        raise ValueError(f"batch sizes must be positive, got {list(batch_sizes)}")
    square = square or (8192 if device.type == "cuda" else 2048)
    generator = torch.Generator().manual_seed(0)
    # Speed does not depend on the pixel values: a Bernoulli(0.13) stand-in for binarized MNIST.
    x_all = (torch.rand(n_images, 784, generator=generator) < 0.13).float()
    print(f"# Training speed on {device.type}: {_machine(device)}", file=out)
    print(f"# medians over {repeats} rounds of ~{seconds:g} s per timing; data: {n_images:,} images "
          "held as one tensor", file=out)
    rows = []
    for label, make_model in _speed_models():
        model = make_model().to(device)
        x_dim = model.x_dim
        x = x_all[:, :x_dim].to(device)
        flops = training_flops_per_image(model)
        for batch_size in batch_sizes:
            steps = max(3, min(x.shape[0] // batch_size, 50))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            time_course_loop(model, x, batch_size, 3, optimizer)  # warm-up: allocations, Adam state
            per_step = time_course_loop(model, x, batch_size, steps, optimizer)
            steps = max(3, min(x.shape[0] // batch_size, int(seconds / max(per_step, 1e-6))))
            fused = None
            if fused_adam:
                try:
                    fused = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
                    time_course_loop(model, x, batch_size, 3, fused)
                except (RuntimeError, TypeError):
                    fused = None
            reference = torch.optim.Adam(model.parameters(), lr=1e-3)
            ref_steps = max(3, min(x.shape[0] // reference_batch, int(seconds / max(per_step, 1e-6))))
            time_reference_loop(model, x, reference_batch, 3, reference)
            r = dict(course=[], fused=[], ceiling=[], square=[], reference=[])
            for _ in range(repeats):
                r["ceiling"].append(time_matmul_ceiling(model, batch_size, device, steps))
                r["square"].append(time_square_matmul(square, device, reps=1))
                r["course"].append(time_course_loop(model, x, batch_size, steps, optimizer))
                if fused is not None:
                    r["fused"].append(time_course_loop(model, x, batch_size, steps, fused))
                r["reference"].append(time_reference_loop(model, x, reference_batch, ref_steps, reference))
            course_ips = [batch_size / t for t in r["course"]]
            ceiling_ips = [batch_size / t for t in r["ceiling"]]
            square_ips = [f / flops for f in r["square"]]
            ref_ips = [reference_batch / t for t in r["reference"]]
            fused_ips = [batch_size / t for t in r["fused"]]
            row = dict(
                model=label, batch=batch_size, mflop_per_image=flops / 1e6,
                course_ips=_median(course_ips),
                ceiling_gflops=_median([flops * batch_size / t / 1e9 for t in r["ceiling"]]),
                ceiling_ips=_median(ceiling_ips),
                ratio=_median([c / m for c, m in zip(course_ips, ceiling_ips)]),
                square_gflops=_median([f / 1e9 for f in r["square"]]),
                square_ips=_median(square_ips),
                ratio_square=_median([c / s for c, s in zip(course_ips, square_ips)]),
                fused_ips=_median(fused_ips) if fused_ips else float("nan"),
                fused_ratio=_median([c / m for c, m in zip(fused_ips, ceiling_ips)]) if fused_ips else float("nan"),
                reference_ips=_median(ref_ips),
                course_vs_reference=_median([c / f for c, f in zip(course_ips, ref_ips)]),
            )
            rows.append(row)
    print(file=out)
    print(_format_table(
        ["model", "batch", "MFLOP/img", "plain Adam img/s", "ceiling img/s", "ratio",
         "course (fused Adam) img/s", "ratio"],
        [[r["model"], r["batch"], r["mflop_per_image"], r["course_ips"], r["ceiling_ips"], r["ratio"],
          r["fused_ips"], r["fused_ratio"]] for r in rows]), file=out)
    print(file=out)
    print(_format_table(
        ["model", "batch", "matmul GFLOP/s (model shapes)", f"square {square} GFLOP/s",
         "square ceiling img/s", "course/square", f"DataLoader loop img/s (batch {reference_batch})",
         "course/DataLoader"],
        [[r["model"], r["batch"], r["ceiling_gflops"], r["square_gflops"], r["square_ips"], r["ratio_square"],
          r["reference_ips"], r["course_vs_reference"]] for r in rows]), file=out)
    print(file=out)
    print("# ceiling img/s = FLOP/s of the step's own matrix products timed alone / (FLOP/img), with "
          "FLOP/img = sum over linear layers of 6*n_in*n_out (decoder x samples of z) - 2*D*h1;", file=out)
    print("# ratio = img/s / ceiling img/s (median of per-round ratios); 'course (fused Adam)' is what "
          "vaecourse.train runs (fused Adam on CPU and CUDA); 'plain Adam' is the same loop with the "
          "default per-tensor Adam; the second table's 'course' columns use plain Adam.", file=out)
    return rows


# ----------------------------------------------------------------------------------------
# quality

QUALITY_CONFIGS = {
    "gaussian": dict(
        model=dict(z_dim=50, hidden=[400, 400], activation="tanh", iw_samples=1),
        batch_size=128, lr=1e-3, final_lr=1e-4, warmup_fraction=0.0,
        why=("two tanh hidden layers of 400 and 50 latents (the IWAE paper's one-stochastic-layer "
             "shape, wider), ELBO objective, Adam lr 1e-3 decayed exponentially to 1e-4 over the budget, "
             "decoder output bias set to the logit of the mean training image"),
    ),
    "binary": dict(
        model=dict(z_dim=200, hidden=[400], activation="tanh", estimator="loo", num_samples=4),
        batch_size=128, lr=5e-4, final_lr=5e-5, warmup_fraction=0.0,
        why=("200 binary latents (the SBN size of the RELAX table), one tanh hidden layer of 400 each way, "
             "4 samples per image with the leave-one-out baseline, Adam lr 5e-4 decayed to 5e-5, "
             "decoder output bias set to the logit of the mean training image"),
    ),
}
"""The configurations ``bench quality`` trains: model keyword arguments, optimiser schedule, and why."""


def _make_quality_model(kind: str, x_dim: int, overrides: dict | None = None):
    cfg = dict(QUALITY_CONFIGS[kind]["model"], **(overrides or {}))
    if kind == "gaussian":
        from .gaussian_vae import GaussianVAE

        return GaussianVAE(x_dim=x_dim, **cfg)
    from .bernoulli_vae import BernoulliVAE

    return BernoulliVAE(x_dim=x_dim, **cfg)


def _init_output_bias(model, x_train: torch.Tensor) -> None:
    """Start the decoder at the mean image: its last bias is the logit of each pixel's frequency."""
    last = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)][-1]
    mean = x_train.mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        last.bias.copy_(torch.log(mean) - torch.log1p(-mean))


def quality(model: str = "gaussian", minutes: float = 20.0, eval_samples: int = 5000, eval_n: int | None = None,
            device: str | None = None, seed: int = 0, batch_size: int | None = None, lr: float | None = None,
            overrides: dict | None = None, save: str | None = None, out=None) -> dict:
    """Train ``QUALITY_CONFIGS[model]`` for ``minutes`` of wall clock and score it on the test set."""
    out = out or sys.stdout
    from .data import load_binarized_mnist
    from .evaluate import elbo, iw_log_likelihood
    from .runtime import seed_everything
    from .train import train

    if model not in QUALITY_CONFIGS:
        raise ValueError(f"model must be one of {sorted(QUALITY_CONFIGS)}, got {model!r}")
    if minutes <= 0 or eval_samples < 1:
        raise ValueError(f"minutes and eval_samples must be positive, got {minutes} and {eval_samples}")
    device = _device(device)
    cfg = QUALITY_CONFIGS[model]
    batch_size = batch_size or cfg["batch_size"]
    lr0 = lr or cfg["lr"]
    final_lr = cfg["final_lr"] * lr0 / cfg["lr"]
    seed_everything(seed)
    x_train = load_binarized_mnist("train")
    x_valid = load_binarized_mnist("valid")
    x_test = load_binarized_mnist("test")
    if eval_n:
        # A seeded random subset: this copy of the test split is ordered by digit, so its head is not typical.
        keep = torch.randperm(x_test.shape[0], generator=torch.Generator().manual_seed(seed))[:eval_n]
        x_test = x_test[keep.sort().values]
    net = _make_quality_model(model, x_train.shape[1], overrides).to(device)
    _init_output_bias(net, x_train)
    try:
        optimizer = torch.optim.Adam(net.parameters(), lr=lr0, fused=device.type in ("cpu", "cuda"))
    except (RuntimeError, TypeError):
        optimizer = torch.optim.Adam(net.parameters(), lr=lr0)
    budget = minutes * 60.0
    print(f"# quality: {model} latents on {device.type} ({_machine(device)})", file=out)
    print(f"# model: {type(net).__name__}({json.dumps(net.config)}), {net.num_parameters():,} parameters", file=out)
    print(f"# training: {cfg['why']}; batch {batch_size}; budget {minutes:g} min of wall clock", file=out)
    out.flush()
    start = time.perf_counter()
    epochs, train_seconds, last_valid = 0, 0.0, float("nan")
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
        # Exponential decay in wall-clock time: the schedule ends at final_lr whatever the machine's speed.
        for group in optimizer.param_groups:
            group["lr"] = lr0 * (final_lr / lr0) ** min(elapsed / budget, 1.0)
        history = train(net, x_train, epochs=1, batch_size=batch_size, optimizer=optimizer, progress=False,
                        seed=seed + epochs, device=device)
        epochs += 1
        train_seconds += history.seconds
        if epochs % 10 == 0 or time.perf_counter() - start >= budget:
            net.eval()
            last_valid = float(elbo(net, x_valid[:2000]).mean())
            print(f"epoch {epochs:4d}  {time.perf_counter() - start:7.0f} s  lr {optimizer.param_groups[0]['lr']:.2e}"
                  f"  train ELBO {history.train['elbo'][-1]:8.2f}  valid ELBO (2k) {last_valid:8.2f}", file=out)
            out.flush()
    wall = time.perf_counter() - start
    net.eval()
    if save:
        from .checkpoint import save_checkpoint

        save_checkpoint(net, save, extra=dict(epochs=epochs, seconds=wall))
    t0 = time.perf_counter()
    test_elbo = float(elbo(net, x_test).mean())
    t_elbo = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_ll = float(iw_log_likelihood(net, x_test, num_samples=eval_samples).mean())
    t_iw = time.perf_counter() - t0
    result = dict(model=model, config=net.config, epochs=epochs, train_seconds=wall, step_seconds=train_seconds,
                  test_elbo=test_elbo, test_ll=test_ll, eval_samples=eval_samples, eval_n=x_test.shape[0],
                  eval_seconds=t_iw, elbo_seconds=t_elbo)
    print(file=out)
    ours = f"ours: {type(net).__name__} {'-'.join(str(v) for v in [net.x_dim, *net.config['hidden'], net.z_dim])}"
    rows = [[f"{ours}, test IW log-likelihood K={eval_samples} on {x_test.shape[0]:,} images", f"{test_ll:.2f}"],
            [f"{ours}, test ELBO", f"{test_elbo:.2f}"]]
    rows += [[name, f"{value:.2f}"] for name, value in PUBLISHED]
    print(_format_table(["model", "nats"], rows), file=out)
    print(file=out)
    print(f"# training: {epochs} epochs in {wall / 60:.1f} min ({train_seconds / 60:.1f} min inside training "
          f"steps); test ELBO {t_elbo:.0f} s; IW evaluation K={eval_samples}: {t_iw / 60:.1f} min", file=out)
    goal = -88.0 if model == "gaussian" else -100.0
    print(f"# goal: {goal:.1f} nats or more -> {'reached' if test_ll >= goal else 'not reached'}", file=out)
    return result


# ----------------------------------------------------------------------------------------
# book


def toc_chapters(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in reading order.

    >>> all(p.suffix == ".ipynb" for p in toc_chapters())
    True
    """
    from .notebook import toc_pages

    files = toc_pages(root)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def _execute(path: Path, quick: bool, checkpoints: Path, timeout: int) -> tuple[float, str]:
    """Run one notebook in a fresh kernel; return (seconds, error or '')."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "VAECOURSE_QUICK": "1" if quick else "0", "VAECOURSE_CHECKPOINTS": str(checkpoints),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    saved = os.environ.copy()
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.perf_counter()
    try:
        client.execute()
        error = ""
    except Exception as exc:  # noqa: BLE001 - report the failure in the table and go on
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120] if str(exc).strip() else ''}"
    finally:
        seconds = time.perf_counter() - start
        os.environ.clear()
        os.environ.update(saved)
    return seconds, error


def book(mode: str = "both", chapters: Sequence[str] | None = None, timeout: int = 1800,
         json_path: str | None = None, keep_checkpoints: bool = False, out=None,
         markdown_path: str | None = None) -> list[dict]:
    """Execute each chapter in ``mode`` (quick, full or both) and print seconds per chapter.

    With ``markdown_path`` the table is also written as a Markdown page fragment, which the
    preface includes, so the times it quotes are this command's output.
    """
    out = out or sys.stdout
    if mode not in ("quick", "full", "both"):
        raise ValueError(f"mode must be quick, full or both, got {mode!r}")
    paths = toc_chapters()
    if chapters:
        wanted = [c.removesuffix(".ipynb").split("/")[-1] for c in chapters]
        unknown = [w for w in wanted if not any(p.stem == w or p.stem.startswith(w) for p in paths)]
        if unknown:
            raise ValueError(f"chapters {unknown} are not in _toc.yml; known: {[p.stem for p in paths]}")
        paths = [p for p in paths if any(p.stem == w or p.stem.startswith(w) for w in wanted)]
    modes = ["quick", "full"] if mode == "both" else [mode]
    print(f"# chapter execution times (nbclient, fresh kernel each, {_machine(torch.device('cpu'))})", file=out)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vaecourse-bench-ckpt-") as tmp:
        results = {p.stem: dict(chapter=p.stem) for p in paths}
        for m in modes:
            # A fresh checkpoint folder per mode: a full-mode time includes the training, and later
            # chapters (chapter 8) load what earlier ones trained in this same run, as in a book build.
            checkpoints = None if keep_checkpoints else Path(tmp)
            for p in paths:
                seconds, error = _execute(p, m == "quick", checkpoints or Path(os.environ.get(
                    "VAECOURSE_CHECKPOINTS", Path.home() / ".cache" / "vaecourse" / "checkpoints")), timeout)
                results[p.stem][f"{m}_s"] = seconds
                if error:
                    results[p.stem][f"{m}_error"] = error
                print(f"{p.stem}: {m} {seconds:.1f} s{'  FAILED ' + error if error else ''}", file=out)
                out.flush()
        rows = list(results.values())
    print(file=out)
    header = ["chapter"] + [f"{m} (s)" for m in modes]
    table_rows = [[r["chapter"]] + [r.get(f"{m}_s", float("nan")) if f"{m}_error" not in r else "failed"
                                    for m in modes] for r in rows]
    totals = ["total"] + [sum(r.get(f"{m}_s", 0.0) for r in rows) for m in modes]
    table = _format_table(header, table_rows + [totals])
    print(table, file=out)
    if markdown_path:
        command = "python -m vaecourse.bench book --mode " + mode
        Path(markdown_path).write_text(
            f"Measured with `{command}` on {_machine(torch.device('cpu'))}, "
            f"{time.strftime('%Y-%m-%d')}; each chapter in a fresh kernel, full-mode times including "
            "the training of every model.\n\n" + table.replace("_", "\\_") + "\n")
    if json_path:
        Path(json_path).write_text(json.dumps(dict(machine=_machine(torch.device("cpu")), chapters=rows), indent=1))
    return rows


# ----------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vaecourse.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("speed", help="training images/s against the matmul ceiling")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the course's default device)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512])
    p.add_argument("--seconds", type=float, default=1.0, help="length of each timing window")
    p.add_argument("--repeats", type=int, default=7, help="rounds; medians are reported")
    p.add_argument("--square", type=int, default=None, help="size of the square matmul (2048 CPU, 8192 GPU)")
    p.add_argument("--images", type=int, default=50_000, help="images in the stand-in data set")
    p.add_argument("--no-fused", action="store_true", help="skip the fused-Adam variant")

    p = sub.add_parser("quality", help="test log-likelihood after a wall-clock training budget")
    p.add_argument("--model", choices=sorted(QUALITY_CONFIGS), default="gaussian")
    p.add_argument("--minutes", type=float, default=20.0, help="training budget (wall clock)")
    p.add_argument("--eval-samples", type=int, default=5000, help="K of the importance-weighted estimate")
    p.add_argument("--eval-n", type=int, default=None, help="score a seeded random subset of N test images")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override a model argument, e.g. --set hidden=[300,300] --set iw_samples=5")
    p.add_argument("--save", default=None, help="write the trained model to this checkpoint path")
    p.add_argument("--json", default=None, help="also write the result as JSON here")

    p = sub.add_parser("book", help="seconds per chapter in quick and full mode")
    p.add_argument("--mode", choices=["quick", "full", "both"], default="both")
    p.add_argument("--chapters", nargs="+", default=None, help="stems or prefixes, e.g. 00_data 03")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p.add_argument("--json", default=None, help="also write the table as JSON here")
    p.add_argument("--markdown", default=None, help="also write the table as a Markdown fragment here "
                   "(book/_generated/chapter_times.md is the one the preface includes)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="use the usual checkpoint folder (times then exclude training already done)")

    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "speed":
        speed(device=args.device, batch_sizes=args.batch_sizes, seconds=args.seconds, repeats=args.repeats,
              square=args.square, n_images=args.images, fused_adam=not args.no_fused)
    elif args.command == "quality":
        overrides = {}
        for item in args.set:
            key, _, value = item.partition("=")
            if not value:
                parser.error(f"--set expects KEY=JSON, got {item!r}")
            overrides[key] = json.loads(value)
        result = quality(model=args.model, minutes=args.minutes, eval_samples=args.eval_samples, eval_n=args.eval_n,
                         device=args.device, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                         overrides=overrides, save=args.save)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
    else:
        book(mode=args.mode, chapters=args.chapters, timeout=args.timeout, json_path=args.json,
             keep_checkpoints=args.keep_checkpoints, markdown_path=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
