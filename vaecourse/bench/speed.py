r"""Training speed against the matmul ceiling: the course's loop, a DataLoader loop, FLOP counts.

``python -m vaecourse.bench speed`` times the course's training loop (:func:`vaecourse.train`: the
whole data set as one tensor on the device, batches drawn as index tensors, Adam) and sets it
beside two ceilings measured in the same run, converted to images per second through the model's
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
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils import benchmark

from .common import (
    describe_machine,
    format_table,
    load_average,
    median,
    pick_device,
    sync,
)

__all__ = [
    "linear_shapes",
    "speed",
    "time_course_loop",
    "time_matmul_ceiling",
    "time_reference_loop",
    "time_square_matmul",
    "training_flops_per_image",
]


def linear_shapes(model: nn.Module) -> list[tuple[str, int, int, int]]:
    """``(name, n_in, n_out, copies)`` for every linear layer of an encoder/decoder model.

    ``copies`` is how many rows per image the layer sees in a training step: 1 for the
    encoder, the number of training samples of :math:`z` for the decoder.

    >>> from vaecourse.gaussian_vae import GaussianVAE
    >>> linear_shapes(GaussianVAE(x_dim=784, z_dim=20, hidden=(400,)))
    [('encoder.0', 784, 400, 1), ('encoder.2', 400, 40, 1), ('decoder.0', 20, 400, 1), ('decoder.2', 400, 784, 1)]
    """
    samples = int(getattr(model, "train_samples", 1)) * int(
        getattr(model, "iw_samples", 1)
    )
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
        per_copy = (
            6 * n_in * n_out if i > 0 else 4 * n_in * n_out
        )  # the data need no gradient
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


def _timer(stmt: str, **globals) -> benchmark.Timer:
    """A ``torch.utils.benchmark.Timer`` at this process's thread count (its default is 1 thread)."""
    return benchmark.Timer(
        stmt=stmt, globals=globals, num_threads=torch.get_num_threads()
    )


def time_matmul_ceiling(
    model: nn.Module, batch_size: int, device: torch.device, seconds: float
) -> float:
    """Seconds per training step spent in the step's matrix products alone (median over ~``seconds``)."""
    products = _layer_products(model, batch_size, device)
    timer = _timer("run(products)", run=_run_products, products=products)
    return timer.blocked_autorange(
        min_run_time=seconds
    ).median  # synchronises CUDA itself


def time_square_matmul(n: int, device: torch.device, seconds: float = 0.2) -> float:
    """FLOP/s of an ``(n, n) @ (n, n)`` fp32 product (median over ~``seconds``)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    return (
        2
        * n**3
        / _timer("a @ b", a=a, b=b).blocked_autorange(min_run_time=seconds).median
    )


def time_course_loop(
    model, x: torch.Tensor, batch_size: int, steps: int, optimizer, seed: int = 0
) -> float:
    """Seconds per step of :func:`vaecourse.train` itself, for one epoch of ``steps`` batches.

    ``train`` measures its own time (``History.seconds``: the steps of the epoch, the device
    synchronised, the set-up and validation excluded).
    """
    from ..train import train

    history = train(
        model,
        x[: steps * batch_size],
        epochs=1,
        batch_size=batch_size,
        optimizer=optimizer,
        progress=False,
        seed=seed,
        device=x.device,
    )
    return history.seconds / steps


class _ItemDataset(torch.utils.data.Dataset):
    """A data set read one image at a time, as most tutorials write it."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def time_reference_loop(
    model, x: torch.Tensor, batch_size: int, steps: int, optimizer
) -> float:
    """Seconds per step of the common loop: a shuffling DataLoader over per-item access, batches
    moved to the device, and ``loss.item()`` logged every step."""
    device = model.device
    loader = torch.utils.data.DataLoader(
        _ItemDataset(x[: steps * batch_size].cpu()), batch_size=batch_size, shuffle=True
    )
    model.train()
    running = 0.0
    sync(device)
    start = time.perf_counter()
    for xb in loader:
        xb = xb.to(device)
        optimizer.zero_grad()
        loss, _ = model.training_loss(xb)
        loss.backward()
        optimizer.step()
        running += loss.item()
    sync(device)
    return (time.perf_counter() - start) / steps


def _speed_models() -> list[tuple[str, Callable[[], nn.Module]]]:
    """The course's Gaussian VAE and the chapter-3 models (their widths read from ``zoo/ch03.py``)."""
    from ..data import IMAGE_SIZE
    from ..gaussian_vae import GaussianVAE

    hidden = _chapter3_hidden()
    label = "chapter 3" if hidden else "chapter 3 not found: assumed"
    hidden = hidden or [512, 256]
    models = [
        (
            "VAE 784-400-20 (course default)",
            lambda: GaussianVAE(x_dim=IMAGE_SIZE, z_dim=20, hidden=(400,)),
        )
    ]
    for z_dim in (
        20,
        2,
    ):  # chapter 3 trains a 20-D model (scored) and a 2-D one (drawn)
        name = f"VAE 784-{'-'.join(str(h) for h in hidden)}-{z_dim}"
        if name != "VAE 784-400-20":
            models.append(
                (
                    f"{name} ({label})",
                    lambda z_dim=z_dim: GaussianVAE(
                        x_dim=IMAGE_SIZE, z_dim=z_dim, hidden=hidden
                    ),
                )
            )
    return models


def _chapter3_hidden() -> list[int] | None:
    """The hidden widths of chapter 3's models (``vaecourse.zoo.ch03.SETTINGS``), or None when absent."""
    try:
        from ..zoo import ch03
    except Exception:  # noqa: BLE001 - an absent or broken chapter module means "use the fallback"
        return None
    settings = getattr(ch03, "SETTINGS", None)
    if isinstance(settings, dict) and "hidden" in settings:
        return [int(h) for h in settings["hidden"]]
    return None


def speed(
    device: str | None = None,
    batch_sizes: Sequence[int] = (128, 512),
    seconds: float = 1.0,
    repeats: int = 7,
    reference_batch: int = 128,
    square: int | None = None,
    n_images: int = 50_000,
    fused_adam: bool = True,
    out=None,
) -> list[dict]:
    """Time the course's training step against the matmul ceiling; print and return the table rows."""
    out = out or sys.stdout
    device = pick_device(device)
    if repeats < 1 or seconds <= 0:
        raise ValueError(
            f"repeats must be >= 1 and seconds > 0, got {repeats} and {seconds}"
        )
    if any(b < 1 for b in batch_sizes):
        raise ValueError(f"batch sizes must be positive, got {list(batch_sizes)}")
    square = square or (8192 if device.type == "cuda" else 2048)
    generator = torch.Generator().manual_seed(0)
    # Speed does not depend on the pixel values: a Bernoulli(0.13) stand-in for binarized MNIST.
    x_all = (torch.rand(n_images, 784, generator=generator) < 0.13).float()
    print(f"# Training speed on {device.type}: {describe_machine(device)}", file=out)
    print(f"# before: {load_average()}", file=out)
    print(
        f"# medians over {repeats} rounds of ~{seconds:g} s per timing; data: {n_images:,} images "
        "held as one tensor",
        file=out,
    )
    rows = []
    for label, make_model in _speed_models():
        model = make_model().to(device)
        x_dim = model.x_dim
        x = x_all[:, :x_dim].to(device)
        flops = training_flops_per_image(model)
        for batch_size in batch_sizes:
            steps = max(3, min(x.shape[0] // batch_size, 50))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            time_course_loop(
                model, x, batch_size, 3, optimizer
            )  # warm-up: allocations, Adam state
            per_step = time_course_loop(model, x, batch_size, steps, optimizer)
            steps = max(
                3, min(x.shape[0] // batch_size, int(seconds / max(per_step, 1e-6)))
            )
            fused = None
            if fused_adam:
                try:
                    fused = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
                    time_course_loop(model, x, batch_size, 3, fused)
                except (RuntimeError, TypeError):
                    fused = None
            reference = torch.optim.Adam(model.parameters(), lr=1e-3)
            ref_steps = max(
                3,
                min(x.shape[0] // reference_batch, int(seconds / max(per_step, 1e-6))),
            )
            time_reference_loop(model, x, reference_batch, 3, reference)
            r = dict(course=[], fused=[], ceiling=[], square=[], reference=[])
            for _ in range(repeats):
                r["ceiling"].append(
                    time_matmul_ceiling(model, batch_size, device, seconds)
                )
                r["square"].append(
                    time_square_matmul(square, device, seconds=min(seconds, 0.5))
                )
                r["course"].append(
                    time_course_loop(model, x, batch_size, steps, optimizer)
                )
                if fused is not None:
                    r["fused"].append(
                        time_course_loop(model, x, batch_size, steps, fused)
                    )
                r["reference"].append(
                    time_reference_loop(model, x, reference_batch, ref_steps, reference)
                )
            course_ips = [batch_size / t for t in r["course"]]
            ceiling_ips = [batch_size / t for t in r["ceiling"]]
            square_ips = [f / flops for f in r["square"]]
            ref_ips = [reference_batch / t for t in r["reference"]]
            fused_ips = [batch_size / t for t in r["fused"]]
            row = dict(
                model=label,
                batch=batch_size,
                mflop_per_image=flops / 1e6,
                course_ips=median(course_ips),
                ceiling_gflops=median(
                    [flops * batch_size / t / 1e9 for t in r["ceiling"]]
                ),
                ceiling_ips=median(ceiling_ips),
                ratio=median([c / m for c, m in zip(course_ips, ceiling_ips)]),
                square_gflops=median([f / 1e9 for f in r["square"]]),
                square_ips=median(square_ips),
                ratio_square=median([c / s for c, s in zip(course_ips, square_ips)]),
                fused_ips=median(fused_ips) if fused_ips else float("nan"),
                fused_ratio=median([c / m for c, m in zip(fused_ips, ceiling_ips)])
                if fused_ips
                else float("nan"),
                reference_ips=median(ref_ips),
                course_vs_reference=median(
                    [c / f for c, f in zip(course_ips, ref_ips)]
                ),
            )
            rows.append(row)
    print(file=out)
    print(
        format_table(
            [
                "model",
                "batch",
                "MFLOP/img",
                "plain Adam img/s",
                "ceiling img/s",
                "ratio",
                "course (fused Adam) img/s",
                "ratio",
            ],
            [
                [
                    r["model"],
                    r["batch"],
                    r["mflop_per_image"],
                    r["course_ips"],
                    r["ceiling_ips"],
                    r["ratio"],
                    r["fused_ips"],
                    r["fused_ratio"],
                ]
                for r in rows
            ],
        ),
        file=out,
    )
    print(file=out)
    print(
        format_table(
            [
                "model",
                "batch",
                "matmul GFLOP/s (model shapes)",
                f"square {square} GFLOP/s",
                "square ceiling img/s",
                "course/square",
                f"DataLoader loop img/s (batch {reference_batch})",
                "course/DataLoader",
            ],
            [
                [
                    r["model"],
                    r["batch"],
                    r["ceiling_gflops"],
                    r["square_gflops"],
                    r["square_ips"],
                    r["ratio_square"],
                    r["reference_ips"],
                    r["course_vs_reference"],
                ]
                for r in rows
            ],
        ),
        file=out,
    )
    print(file=out)
    print(
        "# ceiling img/s = FLOP/s of the step's own matrix products timed alone / (FLOP/img), with "
        "FLOP/img = sum over linear layers of 6*n_in*n_out (decoder x samples of z) - 2*D*h1;",
        file=out,
    )
    print(
        "# ratio = img/s / ceiling img/s (median of per-round ratios); 'course (fused Adam)' is what "
        "vaecourse.train runs (fused Adam on CPU and CUDA); 'plain Adam' is the same loop with the "
        "default per-tensor Adam; the second table's 'course' columns use plain Adam.",
        file=out,
    )
    print(f"# after: {load_average()}", file=out)
    return rows
