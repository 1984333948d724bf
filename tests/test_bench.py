"""Smoke tests of the benchmark command line, and the FLOP count it rests on (no timing is asserted)."""

import nbformat
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from vaecourse import bench
from vaecourse.gaussian_vae import GaussianVAE


@pytest.mark.parametrize("hidden, train_samples", [((400,), 1), ((512, 256), 1), ((30, 20), 3)])
def test_flop_count_matches_torch_flop_counter(hidden, train_samples):
    # An independent count: torch's FlopCounterMode records the matrix products autograd really runs.
    model = GaussianVAE(x_dim=784, z_dim=5, hidden=hidden, train_samples=train_samples)
    x = (torch.rand(8, 784) < 0.2).float()
    with FlopCounterMode(display=False) as counter:
        loss, _ = model.training_loss(x)
        loss.backward()
    assert counter.get_total_flops() == 8 * bench.training_flops_per_image(model)


def test_speed_cli_prints_tables(capsys):
    bench.main(["--threads", "1", "speed", "--batch-sizes", "16", "--seconds", "0.01", "--repeats", "1",
                "--images", "256", "--square", "64", "--no-fused"])
    out = capsys.readouterr().out
    assert "| model | batch | MFLOP/img | plain Adam img/s | ceiling img/s | ratio | course (fused Adam) img/s | ratio |" in out
    assert "VAE 784-400-20 (course default) | 16 |" in out
    assert "course/DataLoader" in out


def test_cli_rejects_unknown_arguments():
    with pytest.raises(SystemExit):
        bench.main(["quality", "--model", "nonsense"])
    with pytest.raises(SystemExit):
        bench.main(["book", "--mode", "slow"])


def test_toc_chapters_are_notebooks_in_reading_order():
    chapters = bench.toc_chapters()
    assert all(p.suffix == ".ipynb" and p.exists() for p in chapters)
    assert [p.stem for p in chapters] == sorted(p.stem for p in chapters)  # NN_ prefixes follow the toc


def test_execute_runs_a_notebook_in_the_requested_mode(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nassert os.environ['VAECOURSE_QUICK'] == '1'")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    seconds, error = bench._execute(path, quick=True, checkpoints=tmp_path, timeout=120)
    assert error == "" and seconds > 0
    seconds, error = bench._execute(path, quick=False, checkpoints=tmp_path, timeout=120)
    assert "AssertionError" in error
