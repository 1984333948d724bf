"""Published checkpoints: the registry command, and load_or_train's download from a local HTTP server."""

import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from functools import partial
from pathlib import Path

import pytest
import torch
import yaml

from vaecourse import GaussianVAE, published, train
from vaecourse.checkpoint import load_checkpoint, load_or_train
from vaecourse.published import DOWNLOAD_ENV, REGISTRY, REGISTRY_ENV, main

ROOT = Path(__file__).resolve().parents[1]
X = (torch.rand(64, 20, generator=torch.Generator().manual_seed(1)) < 0.3).float()


def make():
    torch.manual_seed(0)
    return GaussianVAE(x_dim=20, z_dim=2, hidden=(16,))


def settings(epochs):
    return {"epochs": epochs, "batch_size": 16, "lr": 1e-2, "seed": 0, "num_train": 64}


class Fit:
    """Trains the tiny VAE for ``epochs`` and counts its calls; ``started`` is the last call's time."""

    def __init__(self, epochs=1):
        self.epochs, self.calls, self.started = epochs, 0, None

    def __call__(self, model):
        self.calls += 1
        self.started = time.monotonic()
        history = train(
            model, X, epochs=self.epochs, batch_size=16, lr=1e-2, seed=0, progress=False
        )
        return {"epochs": len(history.epoch)}


def get(folder, epochs=1, fit=None):
    fit = fit or Fit(epochs)
    return load_or_train("vae", make, fit, settings=settings(epochs), directory=folder)


class FolderServer:
    """Serves ``folder`` over HTTP on 127.0.0.1 and records the paths asked for."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A one-epoch model trained in a folder of its own, then published on a local server."""
    original, info = get(tmp_path / "trained")
    folder = tmp_path / "site" / "checkpoints"
    folder.mkdir(parents=True)
    shutil.copy(info["checkpoint"], folder)
    server = FolderServer(tmp_path / "site")
    registry = tmp_path / "published_checkpoints.json"
    base_url = server.url + "checkpoints/"
    assert main([str(folder), "--base-url", base_url, "--out", str(registry)]) == 0
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    monkeypatch.setenv(DOWNLOAD_ENV, "1")
    file = folder / Path(info["checkpoint"]).name
    yield {
        "model": original,
        "file": file,
        "url": base_url + file.name,
        "registry": registry,
        "server": server,
    }
    server.close()


def full_key(path) -> str:
    """The key of a checkpoint, computed here from the settings it stores."""
    identity = torch.load(path, weights_only=True)["identity"]
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def lines(capsys) -> list[str]:
    """The messages on stderr, without the download's progress bar (shown unless TQDM_DISABLE)."""
    return [
        line
        for line in capsys.readouterr().err.splitlines()
        if line and "%|" not in line
    ]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_fresh_folder_downloads_the_published_model_instead_of_training(
    site, tmp_path, capsys
):
    capsys.readouterr()
    fresh, fit = tmp_path / "fresh", Fit()
    model, info = get(fresh, fit=fit)
    assert fit.calls == 0 and info["loaded"] and info["source"] == "published"
    (line,) = lines(capsys)
    size = site["file"].stat().st_size
    assert line == (
        f"vae: downloaded {site['file'].name} ({size / 1e6:.1f} MB) from {site['url']}, "
        f"because none of these settings is in {fresh}"
    )
    # the very file that was published, and a model with exactly the trained weights
    kept = fresh / site["file"].name
    assert (
        info["checkpoint"] == str(kept)
        and kept.read_bytes() == site["file"].read_bytes()
    )
    for name, tensor in site["model"].state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    z = torch.randn(5, 2)
    assert torch.equal(model.decode(z), site["model"].decode(z))
    assert all(map(torch.equal, model.encode(X), site["model"].encode(X)))
    assert leftovers(fresh) == []
    # the next call reads the folder and asks the server nothing
    _, again = get(fresh, fit=fit)
    assert again["source"] == "cache" and fit.calls == 0
    assert lines(capsys) == [f"vae: loaded {kept.name} from the cache"]


def flip_one_byte(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (flip_one_byte, "is not the published file"),
        (Path.unlink, "answered HTTP 404"),
    ],
)
def test_a_bad_or_missing_download_is_refused_and_the_model_trained(
    site, tmp_path, capsys, damage, reason
):
    damage(site["file"])
    capsys.readouterr()
    fresh, fit = tmp_path / "fresh", Fit()
    model, info = get(fresh, fit=fit)
    assert fit.calls == 1 and not info["loaded"] and info["source"] == "trained"
    (line,) = lines(capsys)
    assert line.startswith("vae: training, because") and reason in line, line
    assert site["file"].name in line
    # the folder holds what was trained here, nothing of the download
    kept = Path(info["checkpoint"])
    assert leftovers(fresh) == [] and [p.name for p in fresh.iterdir()] == [kept.name]
    if site["file"].exists():
        assert kept.read_bytes() != site["file"].read_bytes()
    for name, tensor in load_checkpoint(kept).state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_a_file_listed_with_its_true_hash_but_other_settings_is_not_kept(
    site, tmp_path, monkeypatch, capsys
):
    # the one-epoch file, published under the name and key of the two-epoch model
    _, two = get(tmp_path / "scratch", epochs=2)
    name = Path(two["checkpoint"]).name
    shutil.copy(site["file"], site["file"].with_name(name))
    registry = json.loads(site["registry"].read_text())
    entry = registry["checkpoints"][site["file"].name]
    registry["checkpoints"] = {name: {**entry, "key": full_key(two["checkpoint"])}}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(registry))
    monkeypatch.setenv(REGISTRY_ENV, str(forged))
    capsys.readouterr()
    fresh, fit = tmp_path / "fresh", Fit(2)
    _, info = get(fresh, epochs=2, fit=fit)
    assert fit.calls == 1 and info["source"] == "trained"
    (line,) = lines(capsys)
    assert (
        "the published file cannot be used" in line and "settings.epochs 1 -> 2" in line
    )
    assert load_checkpoint(info["checkpoint"], with_extra=True)[1]["epochs"] == 2
    assert leftovers(fresh) == []


def test_other_settings_never_download(site, tmp_path, monkeypatch, capsys):
    capsys.readouterr()
    fit = Fit(2)
    _, info = get(tmp_path / "two-epochs", epochs=2, fit=fit)
    assert fit.calls == 1 and info["source"] == "trained"
    assert lines(capsys)[-1].endswith("; none is published")
    # the registry lists the file of these very settings, but under another full key
    registry = json.loads(site["registry"].read_text())
    entry = registry["checkpoints"][site["file"].name]
    entry["key"] = entry["key"][:16] + "0" * 48
    other = tmp_path / "other-key.json"
    other.write_text(json.dumps(registry))
    monkeypatch.setenv(REGISTRY_ENV, str(other))
    fit = Fit()
    _, info = get(tmp_path / "fresh", fit=fit)
    assert fit.calls == 1 and info["source"] == "trained"
    assert site["server"].requests == []


def test_the_switch_turns_downloading_off(site, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DOWNLOAD_ENV, "0")
    capsys.readouterr()
    fit = Fit()
    _, info = get(tmp_path / "fresh", fit=fit)
    assert fit.calls == 1 and info["source"] == "trained"
    (line,) = lines(capsys)
    assert line.endswith(f"downloading published checkpoints is off ({DOWNLOAD_ENV}=0)")
    assert site["server"].requests == []


def point_registry_at(site, tmp_path, monkeypatch, url):
    registry = json.loads(site["registry"].read_text())
    registry["base_url"] = url
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(registry))
    monkeypatch.setenv(REGISTRY_ENV, str(moved))


def test_a_server_that_is_down_falls_back_to_training_at_once(
    site, tmp_path, monkeypatch, capsys
):
    with socket.socket() as closed:  # a port nobody listens on: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    point_registry_at(site, tmp_path, monkeypatch, f"http://127.0.0.1:{port}/")
    capsys.readouterr()
    fit, start = Fit(), time.monotonic()
    _, info = get(tmp_path / "fresh", fit=fit)
    assert fit.calls == 1 and fit.started - start < 2.0
    (line,) = lines(capsys)
    assert (
        f"could not download {site['file'].name} from http://127.0.0.1:{port}/" in line
    )
    assert leftovers(tmp_path / "fresh") == []


def test_a_server_that_never_answers_is_given_up_after_the_timeout(
    site, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(published, "TIMEOUT", 0.5)
    # a socket that accepts connections (into its backlog) and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        point_registry_at(site, tmp_path, monkeypatch, url)
        capsys.readouterr()
        fit, start = Fit(), time.monotonic()
        _, info = get(tmp_path / "fresh", fit=fit)
    assert fit.calls == 1 and 0.5 <= fit.started - start < 3.0
    (line,) = lines(capsys)
    assert "no answer within 0.5 s" in line, line
    assert leftovers(tmp_path / "fresh") == []


def test_the_registry_lists_each_file_with_its_key_hash_and_size(site):
    registry = json.loads(site["registry"].read_text())
    data = site["file"].read_bytes()
    assert registry == {
        "format": "vaecourse-published-1",
        "base_url": site["url"].rsplit("/", 1)[0] + "/",
        "checkpoints": {
            site["file"].name: {
                "key": full_key(site["file"]),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        },
    }
    assert site["file"].name == f"vae-{full_key(site['file'])[:16]}.pt"


def test_the_registry_command_refuses_renamed_and_broken_files(site, tmp_path, capsys):
    folder = site["file"].parent
    renamed = folder / "vae-0123456789abcdef.pt"
    shutil.copy(site["file"], renamed)
    broken = folder / "vae-fedcba9876543210.pt"
    broken.write_bytes(b"not a checkpoint")
    out = tmp_path / "refused.json"
    capsys.readouterr()
    assert main([str(folder), "--base-url", site["url"], "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert f"{renamed}: the settings it stores have the key" in error
    assert f"{broken} is not a readable vaecourse checkpoint" in error
    assert site["file"].name not in error and not out.exists()
    # run as a command: the same refusal and exit status
    done = subprocess.run(
        [sys.executable, "-m", "vaecourse.published", str(folder)]
        + ["--base-url", site["url"], "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "renamed" in done.stderr and not out.exists()


def test_the_packaged_registry_is_valid_and_ships_in_the_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    site = project["project"]["urls"]["Documentation"].rstrip("/") + "/"
    registry = published.read_registry(REGISTRY)
    assert registry["base_url"] == site + "checkpoints/"
    for name, entry in registry["checkpoints"].items():
        assert re.fullmatch(rf"[A-Za-z0-9_.]+-{entry['key'][:16]}\.pt", name)
    package_data = project["tool"]["setuptools"]["package-data"]["vaecourse"]
    assert REGISTRY.name in package_data


def test_a_broken_registry_is_named(tmp_path, monkeypatch):
    bad = tmp_path / "registry.json"
    bad.write_text(
        json.dumps({"format": "vaecourse-published-1", "base_url": "ftp://x/"})
    )
    monkeypatch.setenv(REGISTRY_ENV, str(bad))
    with pytest.raises(
        ValueError, match=f"{bad} .named by {REGISTRY_ENV}. has no http"
    ):
        published.read_registry()


def test_the_publish_workflow_publishes_the_full_mode_checkpoints(site, tmp_path):
    workflow = yaml.safe_load((ROOT / ".github/workflows/publish.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [step.get("run", "") for step in steps]
    (publish,) = [i for i, run in enumerate(runs) if "vaecourse.published" in run]
    build = runs.index("python -m vaecourse.build")
    upload = next(
        i for i, s in enumerate(steps) if "upload-pages-artifact" in s.get("uses", "")
    )
    assert build < publish < upload
    pages = next(s for s in steps if "configure-pages" in s.get("uses", ""))
    expression = "${{ steps." + pages["id"] + ".outputs.base_url }}"
    assert steps[publish]["env"]["BASE_URL"] == expression + "/checkpoints/"
    # the step's script, run where the full build left its checkpoints
    work, base = tmp_path / "workspace", "https://example.org/book/checkpoints/"
    (work / "checkpoints" / "full").mkdir(parents=True)
    shutil.copy(site["file"], work / "checkpoints" / "full")
    environment = {
        **os.environ,
        "VAECOURSE_CHECKPOINTS": str(work / "checkpoints"),
        "BASE_URL": base,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", runs[publish]],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    folder = work / "_build" / "html" / "checkpoints"
    registry = published.read_registry(folder / "published_checkpoints.json")
    assert registry["base_url"] == base
    assert list(registry["checkpoints"]) == [site["file"].name]
    assert (folder / site["file"].name).read_bytes() == site["file"].read_bytes()


def test_an_unreadable_cached_file_is_replaced_by_the_download(site, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / site["file"].name).write_bytes(b"half a checkpoint")
    capsys.readouterr()
    fit = Fit()
    _, info = get(fresh, fit=fit)
    assert fit.calls == 0 and info["source"] == "published"
    (line,) = lines(capsys)
    assert line.startswith(f"vae: downloaded {site['file'].name}")
    assert "is not a readable vaecourse checkpoint" in line
    assert (fresh / site["file"].name).read_bytes() == site["file"].read_bytes()


def test_retrain_never_downloads(site, tmp_path, capsys):
    fit = Fit()
    _, info = load_or_train(
        "vae", make, fit, settings=settings(1), directory=tmp_path, retrain=True
    )
    assert fit.calls == 1 and info["source"] == "trained"
    assert site["server"].requests == []
    assert lines(capsys)[-1] == "vae: training, because retrain=True was asked"
