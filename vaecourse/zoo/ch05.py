"""Chapter 7's models: the 64-binary-latent VAE trained with each estimator, and a Gaussian VAE of the same size."""

from __future__ import annotations

from ..bernoulli_vae import BernoulliVAE
from ..checkpoint import load_or_train
from ..estimators import BASELINES
from ..evaluate import elbo
from ..gaussian_vae import GaussianVAE
from ..runtime import pick
from ._training import data_for
from ._training import fit as fit_with

__all__ = [
    "SETTINGS",
    "BINARY_VAE_SETTINGS",
    "TRAIN_SETTINGS",
    "binary_vae",
    "gaussian_vae",
    "best_binary_vae",
]

BINARY_VAE_SETTINGS = dict(
    z_dim=64,  # the report's 64 latents
    hidden=(200,),  # one hidden layer each way, as in the report
    num_samples=2,  # K: the same for every estimator, so every model costs the same per step
)
"""The binary-latent VAE's constructor arguments besides ``estimator``: ``BernoulliVAE(D, estimator=..., **these)``."""

TRAIN_SETTINGS = dict(batch_size=100, lr=1e-3)
"""The arguments of :func:`vaecourse.train.train` that every chapter-7 model shares."""

SETTINGS = {**BINARY_VAE_SETTINGS, **TRAIN_SETTINGS}
"""What every model of chapter 7 shares; only the estimator (or the latent type) differs."""


def _training() -> dict:
    """Everything besides the model that determines a trained chapter-7 model (the checkpoint's key)."""
    return dict(
        epochs=pick(full=8, quick=1),
        batch_size=SETTINGS["batch_size"],
        lr=SETTINGS["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=pick(full=None, quick=3000),
        num_valid=pick(full=2000, quick=500),
    )


def _data():
    return data_for(_training())


def _fit(model):
    training = _training()
    history, _ = fit_with(model, training, type(model).__name__)
    every = max(
        1, len(history.step["elbo"]) // 200
    )  # keep ~200 points of the per-step curve
    return {
        "seconds": history.seconds,
        "epochs": history.epoch,
        "train_elbo": history.train["elbo"],
        "valid_elbo": history.valid["elbo"],
        "step_elbo": history.step["elbo"][::every],
        "step_every": every,
    }


def binary_vae(estimator: str = "loo"):
    """The 64-binary-latent VAE trained with the score-function estimator and ``estimator``'s baseline.

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, and the training curves
        (``train_elbo``, ``valid_elbo`` per epoch, ``step_elbo`` every ``step_every`` steps).
    """
    if estimator not in BASELINES:
        raise ValueError(f"estimator must be one of {BASELINES}, got {estimator!r}")

    def make():
        from ..data import IMAGE_SIZE

        return BernoulliVAE(
            IMAGE_SIZE,
            z_dim=SETTINGS["z_dim"],
            hidden=SETTINGS["hidden"],
            estimator=estimator,
            num_samples=SETTINGS["num_samples"],
        )

    return load_or_train(f"ch05_bvae_{estimator}", make, _fit, settings=_training())


def gaussian_vae():
    """A Gaussian VAE with the same 64 latents, networks and training budget, for comparison."""

    def make():
        from ..data import IMAGE_SIZE

        return GaussianVAE(
            IMAGE_SIZE, z_dim=SETTINGS["z_dim"], hidden=SETTINGS["hidden"]
        )

    return load_or_train("ch05_gaussian_vae_z64", make, _fit, settings=_training())


def best_binary_vae():
    """The binary-latent VAE whose estimator reached the highest validation ELBO.

    Returns:
        ``(model, info)`` with ``info["estimator"]`` naming the winner.
    """
    return best_on_validation(binary_vae, BASELINES)


def best_on_validation(make, estimators):
    """Of ``make(estimator)`` for each estimator, the ``(model, info)`` with the best validation ELBO."""
    _, x_valid = _data()
    best = None
    for estimator in estimators:
        model, info = make(estimator)
        score = float(elbo(model, x_valid).mean())
        if best is None or score > best[2]:
            best = (
                model,
                {**info, "estimator": estimator, "valid_elbo_final": score},
                score,
            )
    return best[0], best[1]
