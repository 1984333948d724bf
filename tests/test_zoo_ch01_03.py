"""The models of chapters 1-3 train in quick mode, save a checkpoint, and load it back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaecourse import Autoencoder, GaussianVAE
from vaecourse.zoo import _training, ch01, ch03


@pytest.fixture
def quick_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    monkeypatch.setenv("VAECOURSE_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("VAECOURSE_DEVICE", "cpu")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    # the mechanics, not the quality: 600 images are enough
    monkeypatch.setattr(_training, "load_binarized_mnist", lambda split: _SMALL[split])
    return tmp_path


def _small_split(split):
    from vaecourse.data import load_binarized_mnist

    return load_binarized_mnist(split)[:600]


class _Lazy(dict):
    def __missing__(self, split):
        self[split] = _small_split(split)
        return self[split]


_SMALL = _Lazy()


def test_autoencoder_2d_trains_then_loads(quick_checkpoints):
    model, info = ch01.autoencoder_2d()
    assert isinstance(model, Autoencoder) and model.z_dim == 2
    assert not info["loaded"] and info["seconds"] > 0
    assert [
        p.name for p in (quick_checkpoints / "quick").glob("ch01_autoencoder-*.pt")
    ] == [Path(info["checkpoint"]).name]
    # trained: the reconstruction loss fell below that of a decoder predicting 1/2 everywhere (D log 2)
    assert info["train_loss"][-1] < model.x_dim * torch.log(torch.tensor(2.0)).item()
    assert info["num_train"] == 600
    again, info2 = ch01.autoencoder_2d()
    assert info2["loaded"] and info2["seconds"] == info["seconds"]
    x = torch.bernoulli(torch.full((4, model.x_dim), 0.2))
    torch.testing.assert_close(again.encode(x), model.encode(x))


def test_vae_2d_is_a_two_dimensional_gaussian_vae(quick_checkpoints):
    model, info = ch03.vae_2d()
    assert isinstance(model, GaussianVAE) and model.z_dim == 2 and model.beta == 1.0
    assert len(info["train_elbo"]) == len(info["epochs"]) == len(info["valid_elbo"])
    assert info["valid_elbo"][-1] > info["valid_elbo"][0] - 5  # no divergence
    assert [p.name for p in (quick_checkpoints / "quick").glob("ch03_vae_z2-*.pt")] == [
        Path(info["checkpoint"]).name
    ]


def test_beta_models_are_named_by_beta_and_validate_it(quick_checkpoints):
    with pytest.raises(ValueError, match="beta must be"):
        ch03.vae_beta(-1.0)
    assert 1.0 in ch03.BETAS and list(ch03.BETAS) == sorted(ch03.BETAS)
