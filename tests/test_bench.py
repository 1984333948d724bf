"""Smoke tests of the benchmark command line, and the FLOP count it rests on (no timing is asserted)."""

import nbformat
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from vaecourse.bench import book, speed, threads
from vaecourse.bench.cli import main
from vaecourse.gaussian_vae import GaussianVAE


@pytest.mark.parametrize(
    "hidden, train_samples", [((400,), 1), ((512, 256), 1), ((30, 20), 3)]
)
def test_flop_count_matches_torch_flop_counter(hidden, train_samples):
    # An independent count: torch's FlopCounterMode records the matrix products autograd really runs.
    model = GaussianVAE(x_dim=784, z_dim=5, hidden=hidden, train_samples=train_samples)
    x = (torch.rand(8, 784) < 0.2).float()
    with FlopCounterMode(display=False) as counter:
        loss, _ = model.training_loss(x)
        loss.backward()
    assert counter.get_total_flops() == 8 * speed.training_flops_per_image(model)


def test_speed_cli_prints_tables(capsys):
    main(
        [
            "--threads",
            "1",
            "speed",
            "--batch-sizes",
            "16",
            "--seconds",
            "0.01",
            "--repeats",
            "1",
            "--images",
            "256",
            "--square",
            "64",
            "--no-fused",
        ]
    )
    out = capsys.readouterr().out
    assert (
        "| model | batch | MFLOP/img | plain Adam img/s | ceiling img/s | ratio | course (fused Adam) img/s | ratio |"
        in out
    )
    assert "VAE 784-400-20 (course default) | 16 |" in out
    assert "course/DataLoader" in out


def test_cli_rejects_unknown_arguments():
    with pytest.raises(SystemExit):
        main(["quality", "--model", "nonsense"])
    with pytest.raises(SystemExit):
        main(["book", "--mode", "slow"])


def test_toc_chapters_are_notebooks_in_reading_order():
    chapters = book.toc_chapters()
    assert all(p.suffix == ".ipynb" and p.exists() for p in chapters)
    assert [p.stem for p in chapters] == sorted(
        p.stem for p in chapters
    )  # NN_ prefixes follow the toc


def test_execute_runs_a_notebook_in_the_requested_mode(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\nassert os.environ['VAECOURSE_QUICK'] == '1'"
        )
    ]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    seconds, error = book._execute(path, quick=True, checkpoints=tmp_path, timeout=120)
    assert error == "" and seconds > 0
    seconds, error = book._execute(path, quick=False, checkpoints=tmp_path, timeout=120)
    assert "AssertionError" in error


def test_threads_cli_prints_quiet_and_loaded_figures_with_the_load(capsys, monkeypatch):
    monkeypatch.setattr(
        threads,
        "_run_setting",
        lambda name, spec, *args: dict(
            ips=100.0 if "OMP_NUM_THREADS" in spec["env"] else 50.0,
            threads=1,
            interop=1,
            wait="spin",
        ),
    )
    started = []
    monkeypatch.setattr(
        threads._Neighbours, "__enter__", lambda self: started.append(1) or self
    )
    monkeypatch.setattr(threads._Neighbours, "__exit__", lambda self, *exc: None)
    main(["threads", "--settings", "torch default", "1 thread", "--rounds", "1"])
    out = capsys.readouterr().out
    assert (
        out.count("load average") == 4 and len(started) == 2
    )  # one loaded run per setting
    assert (
        "| 1 thread | 1 | 1 | spin/spin | 100.0 | 100.0 | 2.00 | 1.00 | 2.00 |" in out
    )


def test_a_thread_setting_runs_in_a_fresh_process_with_its_environment():
    spec = dict(env={"VAECOURSE_THREADS": "torch", "OMP_NUM_THREADS": "1"}, interop=1)
    result = threads._run_setting(
        "1 thread", spec, batch=8, steps=2, seconds=0.01, timeout=120
    )
    assert result["threads"] == 1 and result["interop"] == 1 and result["ips"] > 0


def test_neighbours_are_busy_while_the_block_runs_and_gone_after():
    with threads._Neighbours() as neighbours:
        assert all(p.poll() is None for p in neighbours.processes)
    assert all(p.poll() is not None for p in neighbours.processes)
