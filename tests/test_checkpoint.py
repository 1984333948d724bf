"""Checkpoints: a round trip rebuilds the same model; a checkpoint is used only for what it was trained for."""

import multiprocessing
import re

import numpy as np
import pytest
import torch

from vaecourse import Autoencoder, GaussianVAE, elbo, train
from vaecourse.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_or_train,
    plain,
    save_checkpoint,
)


def parts_in(folder):
    return sorted(p.name for p in folder.rglob("*.part"))


def test_round_trip_rebuilds_an_identical_model(tmp_path):
    vae = GaussianVAE(x_dim=12, z_dim=3, hidden=(8, 5), beta=2.0)
    path = save_checkpoint(vae, tmp_path / "vae.pt", extra={"seconds": 1.5})
    loaded, extra = load_checkpoint(path, with_extra=True)
    assert type(loaded) is GaussianVAE and loaded.config == vae.config
    assert extra == {"seconds": 1.5}
    z = torch.randn(4, 3)
    torch.testing.assert_close(loaded.decode(z), vae.decode(z))
    assert parts_in(tmp_path) == []


def test_broken_checkpoints_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable vaecourse checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a vaecourse checkpoint"):
        load_checkpoint(foreign)
    older = (
        tmp_path / "older.pt"
    )  # the first format had no identity; reading it once gave a KeyError
    torch.save(
        {"format": "vaecourse-checkpoint-1", "class": "Autoencoder", "config": {}},
        older,
    )
    with pytest.raises(ValueError, match="older format 'vaecourse-checkpoint-1'"):
        load_checkpoint(older)
    incomplete = tmp_path / "incomplete.pt"
    torch.save({"format": "vaecourse-checkpoint-2", "class": "Autoencoder"}, incomplete)
    with pytest.raises(ValueError, match="lacks a valid 'config'"):
        load_checkpoint(incomplete)


def test_plain_turns_numpy_and_torch_numbers_into_python_ones():
    value = plain(
        {
            "a": np.float64(1.5),
            "b": [np.int64(2), torch.tensor(0.5)],
            "c": (np.array([1, 2]),),
        }
    )
    assert value == {"a": 1.5, "b": [2, 0.5], "c": ([1, 2],)}
    assert (
        type(value["a"]) is float
        and type(value["b"][0]) is int
        and type(value["b"][1]) is float
    )
    with pytest.raises(TypeError, match=r"fit\['model'\] is a Autoencoder"):
        plain({"model": Autoencoder(x_dim=4, z_dim=2, hidden=(3,))}, "fit")


# --- load_or_train --------------------------------------------------------------------------------


class Fit:
    """A fit function that counts its calls and sets a recognisable weight."""

    def __init__(self, result=None):
        self.calls, self.result = 0, result

    def __call__(self, model):
        self.calls += 1
        with torch.no_grad():
            model.decoder[0].bias.fill_(0.25 * self.calls)
        return {"seconds": 2.0} if self.result is None else self.result


def small_autoencoder():
    return Autoencoder(x_dim=6, z_dim=2, hidden=(4,))


def keyed_file(folder, name):
    (path,) = [
        p
        for p in folder.glob(f"{name}-*.pt")
        if re.fullmatch(rf"{name}-[0-9a-f]{{16}}\.pt", p.name)
    ]
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    return err


def test_load_or_train_trains_once_then_loads(tmp_path, capsys):
    fit = Fit()
    _, info1 = load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    second, info2 = load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    assert (
        fit.calls == 1
        and not info1["loaded"]
        and info2["loaded"]
        and info2["seconds"] == 2.0
    )
    assert info1["checkpoint"] == info2["checkpoint"] == str(keyed_file(tmp_path, "ae"))
    torch.testing.assert_close(second.decoder[0].bias, torch.full((4,), 0.25))
    trained, loaded = capsys.readouterr().err.splitlines()  # one line each
    assert trained.startswith("ae: training, because none of these settings is in")
    assert loaded == f"ae: loaded {keyed_file(tmp_path, 'ae').name} from the cache"
    # a different configuration is not mistaken for the saved one, and the saved one stays
    _, info3 = load_or_train(
        "ae",
        lambda: Autoencoder(x_dim=6, z_dim=3, hidden=(4,)),
        fit,
        directory=tmp_path,
    )
    assert not info3["loaded"] and fit.calls == 2
    assert "config.z_dim 2 -> 3" in one_line(capsys)
    assert len(list(tmp_path.glob("ae-*.pt"))) == 2


def test_one_epoch_model_is_not_returned_for_ten_epochs(tmp_path, capsys):
    x = (torch.rand(256, 20) < 0.3).float()

    def make():
        torch.manual_seed(0)
        return GaussianVAE(x_dim=20, z_dim=2, hidden=(16,))

    def run(epochs):
        settings = {
            "epochs": epochs,
            "batch_size": 32,
            "lr": 1e-2,
            "seed": 0,
            "num_train": len(x),
        }

        def fit(model):
            history = train(
                model, x, epochs=epochs, batch_size=32, lr=1e-2, seed=0, progress=False
            )
            return {"epochs": len(history.epoch)}

        return load_or_train("vae", make, fit, settings=settings, directory=tmp_path)

    one, _ = run(1)
    capsys.readouterr()
    ten, info10 = run(10)
    assert not info10["loaded"] and info10["epochs"] == 10
    assert "settings.epochs 1 -> 10" in one_line(capsys)
    # the same as ten epochs from scratch, and clearly better than one
    reference = make()
    train(reference, x, epochs=10, batch_size=32, lr=1e-2, seed=0, progress=False)
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(ten.state_dict()[name], tensor)
    torch.manual_seed(1)
    elbo_one, elbo_ten = (
        elbo(one, x, num_samples=50).mean(),
        elbo(ten, x, num_samples=50).mean(),
    )
    # pixels are independent Bernoulli(0.3): no model beats -20 H(0.3) = -12.2 nats; ten epochs get near it
    assert elbo_ten > elbo_one + 0.5
    _, info = run(10)
    assert (
        info["loaded"]
        and info["epochs"] == 10
        and info["checkpoint"] == info10["checkpoint"]
    )
    _, info = run(
        1
    )  # the one-epoch checkpoint was kept and still serves its own settings
    assert info["loaded"] and info["epochs"] == 1


def test_numpy_results_are_stored_as_python_numbers(tmp_path):
    result = {
        "seconds": np.float64(1.5),
        "curve": np.array([3.0, 2.0], dtype=np.float32),
        "steps": np.int64(7),
        "last": torch.tensor(0.5),
    }
    fit = Fit(result)
    load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    payload = torch.load(
        keyed_file(tmp_path, "ae"), weights_only=True
    )  # what used to fail
    assert payload["extra"] == {
        "seconds": 1.5,
        "curve": [3.0, 2.0],
        "steps": 7,
        "last": 0.5,
    }
    _, info = load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    assert info["loaded"] and fit.calls == 1
    assert (
        type(info["seconds"]) is float
        and type(info["steps"]) is int
        and info["curve"] == [3.0, 2.0]
    )


def test_unwritable_folder_is_reported_before_training(tmp_path):
    # Tests run as root, whom permission bits do not stop; a folder under a regular file is
    # unwritable for everybody.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "checkpoints"
    fit = Fit()
    with pytest.raises(CheckpointError, match="VAECOURSE_CHECKPOINTS") as error:
        load_or_train("ae", small_autoencoder, fit, directory=folder)
    assert fit.calls == 0 and str(folder) in str(error.value)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint") as error:
        save_checkpoint(small_autoencoder(), folder / "ae.pt")
    assert str(folder / "ae.pt") in str(error.value) and "enforce" not in str(
        error.value
    )


def write_over(path, **changes):
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


@pytest.mark.parametrize(
    "damage, reason",
    [
        (
            lambda path: path.write_bytes(b"\x00" * 100),
            "not a readable vaecourse checkpoint",
        ),
        (
            lambda path: torch.save({"weights": torch.zeros(3)}, path),
            "not a vaecourse checkpoint",
        ),
        (
            lambda path: write_over(path, format="vaecourse-checkpoint-1"),
            "older format",
        ),
        (
            lambda path: write_over(
                path, state_dict=Autoencoder(6, 3, hidden=(5,)).state_dict()
            ),
            "do not fit",
        ),
        (
            lambda path: write_over(path, identity={"settings": {"epochs": 1}}),
            "saved for other settings",
        ),
    ],
)
def test_unusable_checkpoint_is_retrained_with_a_message(
    tmp_path, capsys, damage, reason
):
    fit = Fit()
    load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    capsys.readouterr()
    path = keyed_file(tmp_path, "ae")
    damage(path)
    model, info = load_or_train("ae", small_autoencoder, fit, directory=tmp_path)
    assert not info["loaded"] and fit.calls == 2
    message = one_line(capsys)
    assert (
        message.startswith("ae: training, because")
        and reason in message
        and str(path) in message
    )
    torch.testing.assert_close(model.decoder[0].bias, torch.full((4,), 0.5))
    assert load_or_train("ae", small_autoencoder, fit, directory=tmp_path)[1][
        "loaded"
    ]  # replaced


def test_older_checkpoint_of_the_same_name_is_explained_and_kept(tmp_path, capsys):
    legacy = tmp_path / "ae.pt"
    torch.save(
        {
            "format": "vaecourse-checkpoint-1",
            "class": "Autoencoder",
            "config": {"x_dim": 6},
        },
        legacy,
    )
    _, info = load_or_train("ae", small_autoencoder, Fit(), directory=tmp_path)
    assert (
        not info["loaded"] and "older format" in one_line(capsys) and legacy.is_file()
    )


def test_interrupted_save_leaves_the_old_file_and_no_part(tmp_path, monkeypatch):
    model = small_autoencoder()
    path = save_checkpoint(model, tmp_path / "ae.pt", extra={"run": 1})

    def interrupted(payload, out):
        out.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, path, extra={"run": 2})
    assert parts_in(tmp_path) == []
    monkeypatch.undo()
    assert load_checkpoint(path, with_extra=True)[1] == {"run": 1}


def _save_many(path, seed, count):
    torch.manual_seed(seed)
    model = Autoencoder(x_dim=6, z_dim=2, hidden=(4,))
    for i in range(count):
        save_checkpoint(model, path, extra={"writer": seed, "save": i})


def test_two_processes_saving_the_same_checkpoint(tmp_path):
    path = tmp_path / "shared.pt"
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_save_many, args=(path, seed, 30)) for seed in (1, 2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]  # all 60 saves succeeded
    assert parts_in(tmp_path) == []
    model, extra = load_checkpoint(path, with_extra=True)
    assert extra["save"] == 29 and extra["writer"] in (1, 2)
    torch.manual_seed(
        extra["writer"]
    )  # the file holds exactly the last writer's weights
    expected = Autoencoder(x_dim=6, z_dim=2, hidden=(4,))
    for name, tensor in expected.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor)
