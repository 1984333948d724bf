"""The importance-weighted chapter's models: one Gaussian VAE trained on the bound with K samples, with or without DReG."""

from __future__ import annotations

from ..checkpoint import load_or_train
from ..data import IMAGE_SIZE
from ..gaussian_vae import GaussianVAE
from ..protocol import check_positive_int
from ..runtime import pick
from ._training import fit as fit_with
from ._training import summary

__all__ = ["SETTINGS", "NUM_SAMPLES", "iwae"]

SETTINGS = dict(
    z_dim=20,
    hidden=(400,),  # the architecture of chapter 3's 20-D VAE
    batch_size=128,
    lr=1e-3,
    num_train=pick(
        full=5000, quick=1000
    ),  # a subset of the training set, so K = 50 trains in minutes
    epochs=pick(full=5, quick=1),
)
"""What every model of the chapter shares: only K and the encoder's gradient differ."""


def _training() -> dict:
    """Everything besides the model that determines a trained model (the checkpoint's key)."""
    return dict(
        epochs=SETTINGS["epochs"],
        batch_size=SETTINGS["batch_size"],
        lr=SETTINGS["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=SETTINGS["num_train"],
        num_valid=pick(full=1000, quick=200),
    )


NUM_SAMPLES = (1, 5, 50)
"""The values of K trained; K = 1 is the ordinary VAE (its ELBO with the closed-form KL)."""


def _fit(model: GaussianVAE, desc: str) -> dict:
    training = _training()
    history, num_train = fit_with(model, training, desc)
    return {
        **summary(history, num_train),
        "train_iw_bound": history.train.get("iw_bound", history.train["elbo"]),
    }


def iwae(num_samples: int, dreg: bool = False, retrain: bool = False):
    """The ``784-400-20`` VAE trained on the importance-weighted bound with ``num_samples`` samples.

    Checkpoint ``iwae_k<K>`` (``iwae_dreg_k<K>`` with the doubly reparameterised encoder
    gradient). ``num_samples=1`` without DReG is the ordinary VAE, trained on the same data
    budget as the others so that the rows of the chapter's table differ only in the objective.

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, ``epochs``, ``num_train`` and the
        per-epoch curves ``train_elbo``, ``valid_elbo`` and ``train_iw_bound`` (nats).
    """
    num_samples = check_positive_int(num_samples, "num_samples")
    if not isinstance(dreg, bool):
        raise ValueError(f"dreg must be True or False, got {dreg!r}")
    name = f"iwae_{'dreg_' if dreg else ''}k{num_samples}"
    label = f"IWAE{' (DReG)' if dreg else ''}, K = {num_samples}"

    def make_model():
        return GaussianVAE(
            IMAGE_SIZE,
            z_dim=SETTINGS["z_dim"],
            hidden=SETTINGS["hidden"],
            iw_samples=num_samples,
            dreg=dreg,
        )

    return load_or_train(
        name,
        make_model,
        lambda model: _fit(model, label),
        settings=_training(),
        retrain=retrain,
    )
