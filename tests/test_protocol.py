"""The model protocol: bad input is refused, by training and evaluation alike, with messages that say why."""

import math

import pytest
import torch

from vaecourse import (
    AmortisedSBN,
    Autoencoder,
    AutoencoderGMM,
    BernoulliVAE,
    GaussianVAE,
    SigmoidBeliefNet,
    train,
)
from vaecourse.evaluate import elbo, iw_log_likelihood
from vaecourse.ppca import ProbabilisticPCA
from vaecourse.train import NonFiniteLossError

D = 12


def _vae(device=None, dtype=torch.float32):
    return GaussianVAE(x_dim=D, z_dim=2, hidden=(8,)).to(device, dtype)


def _binary(n=20):
    return (torch.rand(n, D) < 0.4).float()


@pytest.mark.parametrize("bad", ["grayscale", "out of range", "nan"])
def test_evaluation_refuses_what_training_refuses_with_the_same_message(bad):
    x = _binary()
    x[3, 5] = {"grayscale": 0.5, "out of range": 2.0, "nan": math.nan}[bad]
    model = _vae()
    with pytest.raises(ValueError) as training:
        train(model, x, epochs=1, progress=False, device="cpu")
    for score in (lambda: elbo(model, x), lambda: iw_log_likelihood(model, x, 5)):
        with pytest.raises(ValueError) as scoring:
            score()
        assert str(scoring.value) == str(training.value).replace("x_train", "x")
    assert "binary values {0, 1}" in str(training.value)


def test_a_gaussian_model_refuses_nan_but_takes_real_values():
    model = ProbabilisticPCA(x_dim=3, z_dim=1)
    x = torch.randn(4, 3, dtype=torch.float64)
    assert elbo(model, x).shape == (4,)
    x[1, 2] = math.nan
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        elbo(model, x)


def test_an_empty_batch_gives_an_empty_result():
    model = _vae()
    for score in (
        elbo(model, torch.zeros(0, D)),
        iw_log_likelihood(model, torch.zeros(0, D), 10),
    ):
        assert score.shape == (0,) and score.dtype == torch.float32


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_data_batch_size_must_be_a_positive_integer(size):
    model = _vae()
    for score in (
        elbo,
        lambda m, x, data_batch_size: iw_log_likelihood(
            m, x, 3, data_batch_size=data_batch_size
        ),
    ):
        with pytest.raises(
            ValueError,
            match=f"data_batch_size must be a positive integer, got {size!r}",
        ):
            score(model, _binary(), data_batch_size=size)


def test_float64_input_is_scored_in_the_model_dtype(dtype):
    model, x = _vae(dtype=dtype), _binary()
    torch.manual_seed(1)
    as_float64 = elbo(model, x.double(), num_samples=4)
    torch.manual_seed(1)
    as_model_dtype = elbo(model, x.to(dtype), num_samples=4)
    assert as_float64.dtype == dtype
    torch.testing.assert_close(as_float64, as_model_dtype, rtol=0, atol=0)


def test_index_must_match_the_data():
    with pytest.raises(
        ValueError, match=r"index must be an integer tensor of shape \(20,\)"
    ):
        elbo(_vae(), _binary(), index=torch.arange(19))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: GaussianVAE(D, z_dim=2.5),
            "z_dim must be a positive integer, got 2.5",
        ),
        (lambda: GaussianVAE(D, z_dim=0), "z_dim must be a positive integer, got 0"),
        (
            lambda: GaussianVAE(D, z_dim=True),
            "z_dim must be a positive integer, got True",
        ),
        (
            lambda: GaussianVAE(D, beta=math.nan),
            "beta must be a finite number >= 0, got nan",
        ),
        (
            lambda: GaussianVAE(D, beta=-1.0),
            "beta must be a finite number >= 0, got -1.0",
        ),
        (
            lambda: GaussianVAE(D, train_samples=True),
            "train_samples must be a positive integer, got True",
        ),
        (
            lambda: GaussianVAE(D, hidden=(0,)),
            r"hidden must be a sequence of positive integers",
        ),
        (
            lambda: GaussianVAE(D, hidden=400),
            r"hidden must be a sequence of positive integers",
        ),
        (lambda: GaussianVAE(0), "x_dim must be a positive integer, got 0"),
        (
            lambda: BernoulliVAE(D, num_samples=True),
            "num_samples must be a positive integer, got True",
        ),
        (lambda: BernoulliVAE(D, z_dim=-3), "z_dim must be a positive integer, got -3"),
        (
            lambda: SigmoidBeliefNet(D, 4, num_examples=0),
            "num_examples must be a positive integer, got 0",
        ),
        (
            lambda: SigmoidBeliefNet(D, 4, 10, num_samples=1),
            "num_samples must be at least 2",
        ),
        (
            lambda: SigmoidBeliefNet(D, 4, 10, inner_lr=math.inf),
            "inner_lr must be a finite number > 0, got inf",
        ),
        (lambda: AmortisedSBN(D, 4.0), "z_dim must be a positive integer, got 4.0"),
        (
            lambda: AmortisedSBN(D, 4, encoder_hidden=(-1,)),
            "encoder_hidden must be a sequence of positive integers",
        ),
        (lambda: Autoencoder(D, z_dim=0), "z_dim must be a positive integer, got 0"),
        (
            lambda: AutoencoderGMM(D, num_components=0),
            "num_components must be a positive integer, got 0",
        ),
        (
            lambda: ProbabilisticPCA(D, 2, noise_scale=0.0),
            "noise_scale must be a finite number > 0, got 0.0",
        ),
    ],
)
def test_constructors_name_the_bad_argument_and_what_was_expected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_training_refuses_an_empty_set_and_a_bad_learning_rate():
    with pytest.raises(ValueError, match=r"x_train is empty \(0 examples\)"):
        train(_vae(), torch.zeros(0, D), progress=False, device="cpu")
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got inf"):
        train(_vae(), _binary(), lr=math.inf, progress=False, device="cpu")


def test_non_finite_parameters_are_caught_at_the_end_of_the_epoch(device, dtype):
    model, x = _vae(device, dtype), _binary(8)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=math.inf
    )  # one step turns the weights into inf/NaN
    with pytest.raises(NonFiniteLossError) as error:
        train(
            model,
            x,
            epochs=3,
            batch_size=8,
            optimizer=optimizer,
            progress=False,
            device=device,
            check_every=10,
        )
    message = str(error.value)
    assert (
        "after epoch 1" in message
        and "weights are now invalid" in message
        and "retrain" in message
    )
    assert not all(
        bool(torch.isfinite(p).all()) for p in model.parameters()
    )  # the message was right


def test_a_non_finite_loss_says_the_weights_are_invalid_and_how_to_recover():
    model, x = _vae(), _binary(8)
    with torch.no_grad():
        model.decoder[-1].bias.fill_(math.nan)
    with pytest.raises(
        NonFiniteLossError,
        match="epoch 1, step 1 of 1. The model's weights are now invalid",
    ):
        train(model, x, epochs=1, batch_size=8, progress=False, device="cpu")
