"""The relaxations chapter's models: the chapter-7 binary VAE trained with relaxed and straight-through gradients."""

from __future__ import annotations

import torch

from ..bernoulli_vae import BernoulliVAE
from ..checkpoint import load_or_train
from ..data import IMAGE_SIZE, load_binarized_mnist
from ..estimators import RELAXATIONS, GradientBias, gradient_bias, make_baseline
from ..notebook import show_progress
from ..runtime import pick
from ..train import train
from . import ch05

__all__ = [
    "FINAL_TEMPERATURE",
    "START_TEMPERATURE",
    "TEMPERATURES",
    "best_relaxed_vae",
    "enumerable_model",
    "exact_encoder_gradient",
    "measure_estimator",
    "relaxed_vae",
    "temperature_schedule",
]

TEMPERATURES = (2.0, 1.0, 0.5, 0.25, 0.1, 0.05)
"""The temperatures at which the chapter measures bias and variance, from hot to cold."""

START_TEMPERATURE, FINAL_TEMPERATURE = 1.0, 0.25
r"""The training schedule's ends: :math:`\tau` falls geometrically from the first to the second."""


def temperature_schedule(epoch: int, epochs: int) -> float:
    r""":math:`\tau_e = \tau_0 (\tau_E / \tau_0)^{(e - 1) / (E - 1)}` for epoch :math:`e` of :math:`E` (from 1).

    >>> [round(temperature_schedule(e, 3), 3) for e in (1, 2, 3)]
    [1.0, 0.5, 0.25]
    """
    if not 1 <= epoch <= epochs:
        raise ValueError(f"epoch must lie in 1..{epochs}, got {epoch}")
    fraction = (epoch - 1) / (epochs - 1) if epochs > 1 else 1.0
    return START_TEMPERATURE * (FINAL_TEMPERATURE / START_TEMPERATURE) ** fraction


def _fit(model: BernoulliVAE) -> dict:
    """Chapter 7's training run (data, epochs, batch, learning rate), one epoch per temperature."""
    x_train, x_valid = (
        ch05._data()
    )  # the same images and epochs as chapter 7, so the rows compare
    epochs = ch05._training()["epochs"]
    optimizer = torch.optim.Adam(model.parameters(), lr=ch05.SETTINGS["lr"])
    info = {
        "seconds": 0.0,
        "epochs": [],
        "temperature": [],
        "train_elbo": [],
        "valid_elbo": [],
    }
    for epoch in range(1, epochs + 1):
        model.temperature = temperature_schedule(epoch, epochs)
        history = train(
            model,
            x_train,
            epochs=1,
            batch_size=ch05.SETTINGS["batch_size"],
            optimizer=optimizer,
            x_valid=x_valid,
            seed=epoch,
            progress=show_progress(),
            desc=model.estimator,
        )
        info["seconds"] += history.seconds
        info["epochs"].append(epoch)
        info["temperature"].append(model.temperature)
        info["train_elbo"] += history.train[
            "elbo"
        ]  # of the relaxed objective, at that temperature
        info["valid_elbo"] += history.valid["elbo"]  # of the discrete model
    model.temperature = model.config["temperature"]
    return info


def relaxed_vae(estimator: str = "relaxed"):
    """The chapter-7 binary VAE (same sizes, K, data and epochs) trained with a relaxation.

    Args:
        estimator: ``"relaxed"`` (Gumbel-softmax) or ``"straight_through"``; the temperature
            follows :func:`temperature_schedule`.

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded`` and per-epoch ``temperature``,
        ``train_elbo`` (relaxed objective) and ``valid_elbo`` (the discrete model's).
    """
    if estimator not in RELAXATIONS:
        raise ValueError(f"estimator must be one of {RELAXATIONS}, got {estimator!r}")

    def make():
        return BernoulliVAE(
            IMAGE_SIZE,
            z_dim=ch05.SETTINGS["z_dim"],
            hidden=ch05.SETTINGS["hidden"],
            estimator=estimator,
            num_samples=ch05.SETTINGS["num_samples"],
            temperature=FINAL_TEMPERATURE,
        )

    settings = {
        **ch05._training(),
        "temperatures": [START_TEMPERATURE, FINAL_TEMPERATURE],
        "seed": "epoch",
    }
    return load_or_train(f"relax_bvae_{estimator}", make, _fit, settings=settings)


def best_relaxed_vae():
    """The relaxation-trained binary VAE with the higher validation ELBO (scored as a discrete model).

    Returns:
        ``(model, info)`` with ``info["estimator"]`` naming the winner.
    """
    return ch05.best_on_validation(relaxed_vae, RELAXATIONS)


def enumerable_model(num_images: int = 16, seed: int = 0):
    """A binary VAE small enough to enumerate (8 latents, 2^8 states), trained briefly so that its decoder uses z.

    Returns:
        ``(model, x)``: the model in eval mode and a ``(num_images, D)`` validation batch.
    """
    torch.manual_seed(seed)
    model = BernoulliVAE(
        IMAGE_SIZE, z_dim=8, hidden=(32,), estimator="loo", num_samples=2
    )
    x_train = load_binarized_mnist("train")[: pick(full=5000, quick=2000)]
    train(model, x_train, epochs=2, batch_size=100, lr=3e-3, seed=seed, progress=False)
    return model.eval(), load_binarized_mnist("valid")[:num_images]


def exact_encoder_gradient(model: BernoulliVAE, x: torch.Tensor) -> torch.Tensor:
    r"""``(P,)`` :math:`\nabla_\phi` of the negative ELBO averaged over ``x``, by summing over all states."""
    params = list(model.encoder.parameters())
    grads = torch.autograd.grad(-model.exact_elbo(x).mean(), params)
    return torch.cat([g.reshape(-1) for g in grads]).double()


def measure_estimator(
    model: BernoulliVAE,
    x: torch.Tensor,
    exact: torch.Tensor,
    estimator: str,
    temperature: float | None = None,
    num_samples: int = 2,
    num_draws: int = 1000,
) -> GradientBias:
    """Bias and variance of the encoder's gradient under ``estimator``: a baseline name or a relaxation."""
    if estimator not in ("none", "loo") + RELAXATIONS:
        raise ValueError(
            f"estimator must be 'none', 'loo' or one of {RELAXATIONS}, got {estimator!r}"
        )
    params = list(model.encoder.parameters())
    if estimator in RELAXATIONS:
        if temperature is None:
            raise ValueError(f"the {estimator} estimator needs a temperature")

        def loss():
            return model.relaxed_surrogate(x, estimator, temperature, num_samples)[0]
    else:
        baseline = make_baseline(estimator)  # "none" or "loo": no state to calibrate

        def loss():
            return model.surrogate(x, baseline, num_samples)[0]

    return gradient_bias(loss, params, exact, num_draws)
