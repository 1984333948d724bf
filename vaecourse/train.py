"""Minibatch training for every model of the course, with the data held as one tensor."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .protocol import check_positive, check_positive_int
from .runtime import default_device, env_flag

__all__ = ["train", "History", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The training loss, or a parameter, became NaN or infinite."""


_RECOVERY = (
    "The model's weights are now invalid (NaN or infinite): rebuild the model, or reload a "
    "checkpoint (load_or_train(..., retrain=True) retrains), and train again with a smaller learning "
    "rate; check the data for NaNs."
)


@dataclass
class History:
    """What :func:`train` records.

    Attributes:
        epoch: epoch numbers, from 1.
        train: per-epoch means of each training statistic (e.g. ``train["elbo"]``).
        valid: per-epoch figures of ``model.validation_stats(x_valid)`` (``valid["elbo"]`` for
            latent-variable models, ``valid["loss"]`` otherwise).
        step: per-step training statistics, for curves finer than an epoch.
        seconds: wall-clock time spent in training steps (validation excluded).
        images: number of images processed.
    """

    epoch: list[int] = field(default_factory=list)
    train: dict[str, list[float]] = field(default_factory=dict)
    valid: dict[str, list[float]] = field(default_factory=dict)
    step: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    images: int = 0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")

    def __repr__(self) -> str:
        last = {
            k: round(v[-1], 2)
            for k, v in {
                **self.train,
                **{f"valid_{k}": v for k, v in self.valid.items()},
            }.items()
            if v
        }
        return f"History(epochs={len(self.epoch)}, seconds={self.seconds:.1f}, last={last})"


def _make_optimizer(model, lr, device):
    params = [p for p in model.parameters() if p.requires_grad]
    # the fused kernel updates all parameters in one pass instead of one small op per tensor
    fused = device.type in ("cpu", "cuda") and all(
        p.is_floating_point() for p in params
    )
    return torch.optim.Adam(params, lr=lr, fused=fused)


def train(
    model,
    x_train: torch.Tensor,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    x_valid: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = True,
    desc: str | None = None,
    check_every: int = 50,
) -> History:
    """Train ``model`` by minibatch stochastic optimisation of its ``training_loss``.

    The whole training set is moved once to the model's device and batches are
    drawn as index tensors from a seeded permutation: no per-item data loader.
    Each step is ``model.fit_batch(x, index, optimizer)`` (by default "zero_grad,
    ``training_loss``, backward, step"); after each epoch the parameters are checked
    to be finite and ``model.validation_stats(x_valid)`` is recorded.

    Args:
        model: a :class:`~vaecourse.protocol.CourseModel`.
        x_train: ``(N, D)`` training data, ``N >= 1``, checked by ``model.check_data`` (binary for a
            Bernoulli likelihood) and converted to the model's dtype.
        epochs: passes over the data.
        batch_size: examples per step.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        x_valid: optional ``(M, D)`` data scored after every epoch (``model.validation_stats``).
        seed: seeds the batch order (and the model's sampling, through ``torch.manual_seed``).
        device: where to train; by default CUDA, then MPS, then CPU.
        optimizer: an optimiser over the model's parameters (default Adam).
        progress: show a tqdm progress bar with the running ELBO (or loss)
            ``TQDM_DISABLE=1`` in the environment hides it regardless (the book build sets it).
        desc: progress bar label.
        check_every: steps between checks that the loss is finite (checks need a
            device synchronisation; a non-finite loss is still reported with its exact step).

    Returns:
        A :class:`History`.

    Raises:
        NonFiniteLossError: the loss turned NaN or infinite (the epoch and step are named), or a
            parameter did by the end of an epoch; the message says how to recover.
        ValueError: bad arguments, or data that are empty or do not suit the model.
    """
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(check_every, "check_every")
    if optimizer is None:
        check_positive(lr, "lr")
    x = model.check_data(x_train, "x_train")
    if x.shape[0] == 0:
        raise ValueError("x_train is empty (0 examples); training needs at least one")
    if x_valid is not None:
        x_valid = model.check_data(x_valid, "x_valid")
        if x_valid.shape[0] == 0:
            raise ValueError(
                "x_valid is empty (0 examples); pass None to skip validation"
            )
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    x = x.to(device)
    n = x.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    optimizer = optimizer or _make_optimizer(model, lr, device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history = History()
    bar = tqdm(
        total=epochs * steps_per_epoch,
        desc=desc or type(model).__name__,
        disable=not progress or _tqdm_disabled(),
        unit="step",
        leave=False,
    )
    key = None
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            losses = torch.empty(steps_per_epoch, device=device)
            sums: dict[str, torch.Tensor] = {}
            start = time.perf_counter()
            for step in range(steps_per_epoch):
                index = order[step * batch_size : (step + 1) * batch_size]
                loss, stats = model.fit_batch(x[index], index, optimizer)
                losses[step] = loss.detach()
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + torch.as_tensor(v).detach()
                    history.step.setdefault(k, []).append(v)
                if (step + 1) % check_every == 0 or step + 1 == steps_per_epoch:
                    _check_finite(losses[: step + 1], epoch, steps_per_epoch)
                    key = key or ("elbo" if "elbo" in sums else next(iter(sums), None))
                    if key is not None:
                        bar.set_postfix(
                            {key: f"{float(sums[key]) / (step + 1):.2f}"}, refresh=False
                        )
                    bar.update(step + 1 - bar.n + (epoch - 1) * steps_per_epoch)
            _check_parameters(model, epoch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            history.seconds += time.perf_counter() - start
            history.images += n
            history.epoch.append(epoch)
            for k, v in sums.items():
                history.train.setdefault(k, []).append(float(v) / steps_per_epoch)
            if x_valid is not None:
                model.eval()
                for k, v in model.validation_stats(x_valid).items():
                    history.valid.setdefault(k, []).append(v)
    finally:
        bar.close()
        model.eval()
    history.step = {k: [float(v) for v in vals] for k, vals in history.step.items()}
    return history


def _tqdm_disabled() -> bool:
    return bool(env_flag("TQDM_DISABLE"))


def _check_finite(losses: torch.Tensor, epoch: int, steps_per_epoch: int) -> None:
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        step = int((~finite).nonzero()[0]) + 1
        value = float(losses[step - 1])
        raise NonFiniteLossError(
            f"the training loss became {value} at epoch {epoch}, step {step} of {steps_per_epoch}. "
            + _RECOVERY
        )


def _check_parameters(model, epoch: int) -> None:
    """Raise :class:`NonFiniteLossError` naming the first parameter or buffer that holds NaN or inf."""
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise NonFiniteLossError(
                f"parameter {name!r} holds NaN or infinite values after epoch {epoch}. "
                + _RECOVERY
            )
