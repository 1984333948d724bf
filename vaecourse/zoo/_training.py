"""Training a zoo model as its settings say: the data it selects and the call of ``train``, once."""

from __future__ import annotations

from ..data import load_binarized_mnist
from ..notebook import show_progress
from ..train import History, train


def data_for(training: dict):
    """The training and validation images that ``training`` selects.

    ``training["num_train"]`` and ``training["num_valid"]`` count the first images of each
    split (None: all of them).
    """
    x_train = load_binarized_mnist("train")[: training["num_train"]]
    x_valid = load_binarized_mnist("valid")[: training["num_valid"]]
    return x_train, x_valid


def fit(model, training: dict, desc: str) -> tuple[History, int]:
    """Train ``model`` with the epochs, batch size, learning rate and seed of ``training``.

    Returns:
        the :class:`~vaecourse.train.History` and the number of training images.
    """
    x_train, x_valid = data_for(training)
    history = train(
        model,
        x_train,
        epochs=training["epochs"],
        batch_size=training["batch_size"],
        lr=training["lr"],
        x_valid=x_valid,
        seed=training["seed"],
        progress=show_progress(),
        desc=desc,
    )
    return history, len(x_train)


def summary(history: History, num_train: int) -> dict:
    """What every zoo model of an ELBO records of its training: time, epochs, ELBO curves."""
    return {
        "seconds": history.seconds,
        "epochs": history.epoch,
        "num_train": num_train,
        "train_elbo": history.train["elbo"],
        "valid_elbo": history.valid["elbo"],
    }
