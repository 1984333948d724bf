"""Chapter 9's models: a linear sigmoid belief network with a mean-field posterior per image, and its amortised twin."""

from __future__ import annotations

from ..checkpoint import load_or_train
from ..data import IMAGE_SIZE, load_binarized_mnist
from ..notebook import show_progress
from ..runtime import pick
from ..sbn import AmortisedSBN, SigmoidBeliefNet
from ..train import train

__all__ = ["SBN_SETTINGS", "sbn_mean_field", "sbn_amortised"]

SBN_SETTINGS = dict(
    z_dim=16,  # 2^16 = 65,536 latent states: small enough to enumerate, so log p(x) is exact
    hidden=(),  # the classic linear SBN: p(x | z) = sigmoid(W z + b)
    num_samples=5,  # K draws per gradient estimate (leave-one-out baseline)
    inner_steps=5,  # variational steps per minibatch (mean-field model)
    inner_lr=0.3,  # Adam step size on the variational logits
    encoder_hidden=(200,),  # the amortised twin's encoder
    batch_size=250,
    lr=3e-2,  # Adam step size on theta (and phi)
)
"""The architecture and optimisation of both chapter-9 models (one decoder family)."""


def _training() -> dict:
    """Everything besides the model that determines a trained chapter-9 model (the checkpoint's key)."""
    return dict(
        epochs=pick(full=10, quick=1),
        batch_size=SBN_SETTINGS["batch_size"],
        lr=SBN_SETTINGS["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=pick(full=None, quick=2000),
        num_valid=pick(full=2000, quick=500),
    )


def _train_subset():
    return load_binarized_mnist("train")[: _training()["num_train"]]


def sbn_mean_field(retrain: bool = False):
    """The linear SBN with one vector of variational logits per training image, trained by alternating updates.

    Loads the checkpoint ``ch06_sbn_mean_field`` when it exists; otherwise trains with the chapter's
    settings (all 50,000 training images for 10 epochs in full mode, 2,000 for one epoch in quick mode).

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, ``epochs``, ``num_train`` and the
        per-epoch training ELBO ``train_elbo`` (nats per image).
    """
    s = SBN_SETTINGS
    x_train = _train_subset()

    def make():
        return SigmoidBeliefNet(
            IMAGE_SIZE,
            s["z_dim"],
            num_examples=len(x_train),
            hidden=s["hidden"],
            num_samples=s["num_samples"],
            inner_steps=s["inner_steps"],
            inner_lr=s["inner_lr"],
        )

    def fit(model):
        model.init_output_bias(x_train)
        t = _training()
        history = train(
            model,
            x_train,
            epochs=t["epochs"],
            batch_size=t["batch_size"],
            lr=t["lr"],
            seed=t["seed"],
            progress=show_progress(),
            desc="SBN, mean-field",
        )
        return {
            "seconds": history.seconds,
            "epochs": history.epoch,
            "num_train": len(x_train),
            "train_elbo": history.train["elbo"],
        }

    return load_or_train(
        "ch06_sbn_mean_field",
        make,
        fit,
        settings={**_training(), "num_valid": 0},
        retrain=retrain,
    )


def sbn_amortised(retrain: bool = False):
    """The same linear SBN with an encoder ``784-200-16`` (tanh) giving the variational logits.

    Encoder and decoder are trained jointly on the ELBO (leave-one-out score-function gradient for
    the encoder). Checkpoint ``ch06_sbn_amortised``; same data and epochs as :func:`sbn_mean_field`.

    Returns:
        ``(model, info)`` as :func:`sbn_mean_field`, plus ``valid_elbo``.
    """
    s = SBN_SETTINGS
    x_train = _train_subset()

    def make():
        return AmortisedSBN(
            IMAGE_SIZE,
            s["z_dim"],
            hidden=s["hidden"],
            encoder_hidden=s["encoder_hidden"],
            num_samples=s["num_samples"],
        )

    def fit(model):
        model.init_output_bias(x_train)
        t = _training()
        x_valid = load_binarized_mnist("valid")[: t["num_valid"]]
        history = train(
            model,
            x_train,
            epochs=t["epochs"],
            batch_size=t["batch_size"],
            lr=t["lr"],
            seed=t["seed"],
            x_valid=x_valid,
            progress=show_progress(),
            desc="SBN, amortised",
        )
        return {
            "seconds": history.seconds,
            "epochs": history.epoch,
            "num_train": len(x_train),
            "train_elbo": history.train["elbo"],
            "valid_elbo": history.valid["elbo"],
        }

    return load_or_train(
        "ch06_sbn_amortised", make, fit, settings=_training(), retrain=retrain
    )
