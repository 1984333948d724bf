"""The Colab edition as a reader runs it: each chapter alone, quick, from a wheel.

Each chapter runs in an empty folder, with the package installed from a built wheel
into a fresh virtual environment and the data from a local HTTP server; Colab's install
line does not run (it runs only where google.colab is imported)."""

import copy
import gzip
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from data_helpers import Server
from test_packaging import _fresh_python, fresh_install  # noqa: F401 (a fixture)

from vaecourse.colab import write_edition

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """The Colab edition of every chapter (a missing published value stops no run)."""
    written, _, _ = write_edition(
        ROOT, tmp_path_factory.mktemp("colab"), allow_missing=True
    )
    return {p.stem: nbformat.read(p, as_version=4) for p in written}


DATA = Path(os.environ.get("VAECOURSE_DATA") or "/work/shared/data")


@pytest.fixture(scope="module")
def data_server():
    """The data sets at their public names: the .amat text, MNIST's .gz files."""
    if not (DATA / "binarized_mnist").is_dir():
        pytest.skip(f"no local copy of the data sets in {DATA} (set VAECOURSE_DATA)")
    server = Server()
    for path in (DATA / "binarized_mnist").glob("*.amat*"):
        body = path.read_bytes()
        name = path.name.removesuffix(".gz")
        server.routes[f"/binarized_mnist/{name}"] = (
            200,
            gzip.decompress(body) if path.suffix == ".gz" else body,
            None,
        )
    for path in (DATA / "mnist").glob("*.gz"):
        server.routes[f"/mnist/{path.name}"] = (200, path.read_bytes(), None)
    yield server
    server.close()


@pytest.fixture(scope="module")
def reader_kernel(fresh_install, tmp_path_factory):  # noqa: F811 (the fixture)
    """A kernel spec of the fresh environment's Python, with ipykernel (as in Colab)."""
    python = _fresh_python(fresh_install)
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--no-compile",
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [*pip, "-c", str(ROOT / "constraints.txt"), "ipykernel"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    prefix = tmp_path_factory.mktemp("kernel")
    done = subprocess.run(
        [
            str(python),
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(prefix),
            "--name",
            "reader",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return prefix / "share" / "jupyter" / "kernels", python


@pytest.mark.wheel
@pytest.mark.parametrize("stem", CHAPTERS)
def test_each_chapter_runs_alone_in_quick_mode(
    stem, edition, reader_kernel, data_server, tmp_path_factory
):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels, python = reader_kernel
    notebook = copy.deepcopy(edition[stem])
    probe = (
        "import vaecourse, vaecourse.runtime\n"
        "print(vaecourse.__file__, vaecourse.runtime.is_quick())"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    folder = tmp_path_factory.mktemp(f"run-{stem}")  # empty: the chapter alone
    shared = (
        tmp_path_factory.getbasetemp() / "reader-cache"
    )  # one download, as ~/.cache
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VAECOURSE_QUICK", "VAECOURSE_DATA", "MPLBACKEND")
    }
    env |= {
        "VAECOURSE_CACHE": str(shared),
        "VAECOURSE_CHECKPOINTS": str(folder / ".checkpoints"),  # nothing trained before
        "VAECOURSE_BINARIZED_URL": data_server.url + "binarized_mnist/",
        "VAECOURSE_MNIST_URL": data_server.url + "mnist/",
        "OMP_NUM_THREADS": "1",
    }
    manager = KernelManager(
        kernel_name="reader",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
    )
    client = NotebookClient(
        notebook, km=manager, timeout=600, resources={"metadata": {"path": str(folder)}}
    )
    try:
        client.execute(env=env)
    finally:  # nbclient leaves a kernel it did not start running
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    where, quick = text.split()
    assert Path(where).is_relative_to(python.parents[1]), "imported the checkout"
    assert (
        quick == "True"
    )  # the set-up cell's switch, not the environment, chose quick mode
    assert notebook.cells[1].outputs == []  # the set-up cell prints nothing
