"""Training speed under thread settings, on a quiet CPU and beside one busy process per core.

Each setting runs in a fresh Python process (or a fresh Jupyter kernel, as a chapter runs), because OpenMP reads its environment
(``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) once, when torch loads it,
and torch's inter-op pool can be sized only before its first use. A process times the
course's training step (:func:`vaecourse.train`, the course's default Gaussian VAE,
batch 128) and prints images per second. "Loaded" runs the same processes while one
CPU-bound neighbour (a Python busy loop) per usable CPU runs beside them, as on a laptop
doing other work or a shared server. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from ..threads import usable_cpus
from .common import format_table, load_average, median

__all__ = ["SETTINGS", "threads", "time_settings"]

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "KMP_BLOCKTIME",
    "VAECOURSE_THREADS",
)  # the settings compared are set from scratch


def _settings() -> dict[str, dict]:
    """Name -> (environment before torch loads, torch calls made first thing in the process)."""
    n = str(usable_cpus())
    return {
        "torch default": dict(env={"VAECOURSE_THREADS": "torch"}),
        "1 thread": dict(env={"VAECOURSE_THREADS": "torch", "OMP_NUM_THREADS": "1"}),
        "usable CPUs": dict(env={"VAECOURSE_THREADS": "torch", "OMP_NUM_THREADS": n}),
        "OMP_WAIT_POLICY=PASSIVE": dict(
            env={"VAECOURSE_THREADS": "torch", "OMP_WAIT_POLICY": "PASSIVE"}
        ),
        "1 inter-op thread": dict(env={"VAECOURSE_THREADS": "torch"}, interop=1),
        **{
            f"GOMP_SPINCOUNT={n}": dict(
                env={"VAECOURSE_THREADS": "torch", "GOMP_SPINCOUNT": str(n)}
            )
            for n in _SPIN_COUNTS
        },
        "course policy": dict(
            env={}
        ),  # decided by the process itself, at `import vaecourse`
        "torch default, Jupyter kernel": dict(
            env={"VAECOURSE_THREADS": "torch"}, kernel=True
        ),
        "course policy, Jupyter kernel": dict(env={}, kernel=True),
    }


_SPIN_COUNTS = (1000, 3000, 10000, 30000)

SETTINGS: tuple[str, ...] = (
    "torch default",
    "1 thread",
    "usable CPUs",
    "OMP_WAIT_POLICY=PASSIVE",
    "1 inter-op thread",
    *(f"GOMP_SPINCOUNT={n}" for n in _SPIN_COUNTS),
    "course policy",
    "torch default, Jupyter kernel",
    "course policy, Jupyter kernel",
)
"""The settings compared, by name (``--settings`` picks some of them)."""


def _worker(spec: dict) -> None:
    """Run in a fresh process: time the training step and print one JSON line."""
    import torch

    if spec.get("interop"):
        torch.set_num_interop_threads(spec["interop"])
    from ..gaussian_vae import GaussianVAE
    from ..train import train

    batch, steps = spec["batch"], spec["steps"]
    generator = torch.Generator().manual_seed(0)
    x = (
        torch.rand(batch * steps, 784, generator=generator) < 0.13
    ).float()  # stands in for MNIST
    model = GaussianVAE(x_dim=784, z_dim=20, hidden=(400,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(
        model,
        x[: 3 * batch],
        epochs=1,
        batch_size=batch,
        optimizer=optimizer,
        progress=False,
    )  # warm-up
    rates = []
    deadline = time.perf_counter() + spec["seconds"]
    while not rates or time.perf_counter() < deadline:
        history = train(
            model, x, epochs=1, batch_size=batch, optimizer=optimizer, progress=False
        )
        rates.append(history.images / history.seconds)
    print(
        json.dumps(
            dict(
                ips=median(rates),
                threads=torch.get_num_threads(),
                interop=torch.get_num_interop_threads(),
                wait=os.environ.get("OMP_WAIT_POLICY", "spin"),
            )
        )
    )


def _run_setting(
    name: str, spec: dict, batch: int, steps: int, seconds: float, timeout: float
) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    env.update(spec["env"])
    job = json.dumps(
        dict(batch=batch, steps=steps, seconds=seconds, interop=spec.get("interop"))
    )
    try:
        if spec.get("kernel"):
            return json.loads(_run_in_kernel(job, env, timeout))
        command = [sys.executable, "-m", "vaecourse.bench.threads", job]
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except (subprocess.TimeoutExpired, TimeoutError):
        return dict(
            ips=float("nan"),
            threads="-",
            interop="-",
            wait="-",
            error=f"over {timeout:.0f} s",
        )
    except subprocess.CalledProcessError as error:
        raise RuntimeError(
            f"setting {name!r} failed:\n{error.stderr[-2000:]}"
        ) from None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_in_kernel(job: str, env: dict[str, str], timeout: float) -> str:
    """Run the worker in a fresh Jupyter kernel (as a chapter runs), return its JSON line."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    code = f"import json\nfrom vaecourse.bench.threads import _worker\n_worker(json.loads({job!r}))"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=int(timeout), kernel_name="python3").execute()
    except CellTimeoutError as error:
        raise TimeoutError(str(error)) from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text = "".join(
        o.get("text", "")
        for o in notebook.cells[0].outputs
        if o.get("name") == "stdout"
    )
    return text.strip().splitlines()[-1]


class _Neighbours:
    """One CPU-bound busy loop per usable CPU, for as long as the ``with`` block runs."""

    def __enter__(self):
        loop = [sys.executable, "-c", "while True: pass"]
        self.processes = [subprocess.Popen(loop) for _ in range(usable_cpus())]
        time.sleep(0.5)  # let them reach the scheduler's steady state
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def time_settings(
    names: Sequence[str],
    loaded: bool,
    rounds: int = 3,
    batch: int = 128,
    steps: int = 20,
    seconds: float = 2.0,
    timeout: float = 300.0,
) -> dict[str, dict]:
    """Images/s of each setting (median over ``rounds``, settings interleaved within a round)."""
    specs = _settings()
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"unknown settings {unknown}; expected some of {list(specs)}")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in names:
            if loaded:
                with _Neighbours():
                    runs[name].append(
                        _run_setting(name, specs[name], batch, steps, seconds, timeout)
                    )
            else:
                runs[name].append(
                    _run_setting(name, specs[name], batch, steps, seconds, timeout)
                )
            print(
                f"#   {'loaded' if loaded else 'quiet'}: {name}: {runs[name][-1]['ips']:,.0f} img/s "
                f"({load_average()})",
                file=sys.stderr,
                flush=True,
            )
    return {
        n: dict(runs[n][-1], ips=median([r["ips"] for r in runs[n]])) for n in names
    }


def threads(
    settings: Sequence[str] = SETTINGS,
    rounds: int = 3,
    seconds: float = 2.0,
    batch: int = 128,
    out=None,
) -> list[dict]:
    """Print a table of images/s, quiet and loaded, for each thread setting; return its rows."""
    out = out or sys.stdout
    cpus = usable_cpus()
    print(
        f"# training step (GaussianVAE 784-400-20, batch {batch}), {cpus} usable CPUs, medians over "
        f"{rounds} rounds of ~{seconds:g} s in a fresh process per setting",
        file=out,
    )
    print(f"# quiet: before, {load_average()}", file=out)
    out.flush()
    quiet = time_settings(
        settings, loaded=False, rounds=rounds, batch=batch, seconds=seconds
    )
    print(f"# quiet: after, {load_average()}", file=out)
    print(f"# loaded ({cpus} busy neighbours): before, {load_average()}", file=out)
    out.flush()
    loaded = time_settings(
        settings, loaded=True, rounds=rounds, batch=batch, seconds=seconds
    )
    print(f"# loaded: after, {load_average()}", file=out)
    reference = quiet[settings[0]]["ips"]
    rows = [
        dict(
            setting=name,
            threads=quiet[name]["threads"],
            interop=quiet[name]["interop"],
            wait=f"{quiet[name].get('wait', '-')}/{loaded[name].get('wait', '-')}",
            quiet_ips=quiet[name]["ips"],
            loaded_ips=loaded[name]["ips"],
            quiet_vs_first=quiet[name]["ips"] / reference,
            loaded_vs_quiet=loaded[name]["ips"] / quiet[name]["ips"],
            loaded_vs_first_quiet=loaded[name]["ips"] / reference,
        )
        for name in settings
    ]
    print(file=out)
    print(
        format_table(
            [
                "setting",
                "threads",
                "inter-op",
                "waiting (quiet/loaded)",
                "quiet img/s",
                "loaded img/s",
                f"quiet / {settings[0]}",
                "loaded / own quiet",
                f"loaded / quiet {settings[0]}",
            ],
            [
                [
                    r["setting"],
                    r["threads"],
                    r["interop"],
                    r["wait"],
                    r["quiet_ips"],
                    r["loaded_ips"],
                    f"{r['quiet_vs_first']:.2f}",
                    f"{r['loaded_vs_quiet']:.2f}",
                    f"{r['loaded_vs_first_quiet']:.2f}",
                ]
                for r in rows
            ],
        ),
        file=out,
    )
    return rows


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
