"""Runtime switches: quick mode, seeding and the device choice."""

import pytest
import torch

from vaecourse import runtime, threads


def test_quick_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("VAECOURSE_QUICK", "1")
    assert runtime.is_quick() and runtime.pick(full=30, quick=2) == 2
    assert runtime.checkpoint_dir().name == "quick"
    monkeypatch.setenv("VAECOURSE_QUICK", "0")
    assert not runtime.is_quick() and runtime.pick(full=30, quick=2) == 30
    assert runtime.checkpoint_dir().name == "full"
    monkeypatch.setenv("VAECOURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="VAECOURSE_QUICK='maybe' is not understood"):
        runtime.is_quick()


def test_seeding_makes_every_generator_repeat():
    import random

    import numpy as np

    runtime.seed_everything(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(11)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(-1)


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("VAECOURSE_DEVICE", "cpu")
    assert runtime.default_device() == torch.device("cpu")
    monkeypatch.delenv("VAECOURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else runtime.default_device().type
    assert runtime.default_device().type == expected


def test_a_device_this_machine_lacks_is_named_with_the_available_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("VAECOURSE_DEVICE", "cuda")
    with pytest.raises(
        ValueError,
        match=r"VAECOURSE_DEVICE='cuda': this machine has no such device; "
        r"available: .*cpu",
    ):
        runtime.default_device()
    monkeypatch.setenv("VAECOURSE_DEVICE", "gpu0")
    with pytest.raises(
        ValueError,
        match=r"VAECOURSE_DEVICE='gpu0' is not a device name; expected one of",
    ):
        runtime.default_device()


def test_env_flag_reads_every_spelling_and_rejects_others(monkeypatch):
    for value, expected in [
        ("1", True),
        (" Yes ", True),
        ("on", True),
        ("0", False),
        ("", False),
        ("off", False),
    ]:
        monkeypatch.setenv("VAECOURSE_FLAG", value)
        assert runtime.env_flag("VAECOURSE_FLAG") is expected
    monkeypatch.delenv("VAECOURSE_FLAG")
    assert (
        runtime.env_flag("VAECOURSE_FLAG") is False
        and runtime.env_flag("VAECOURSE_FLAG", None) is None
    )
    monkeypatch.setenv("VAECOURSE_FLAG", "2")
    with pytest.raises(ValueError, match="VAECOURSE_FLAG='2' is not understood"):
        runtime.env_flag("VAECOURSE_FLAG")


def test_child_environment_puts_this_package_first_once_and_keeps_user_settings(
    monkeypatch,
):
    import os

    monkeypatch.setattr(
        threads, "_applied", {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "2"}
    )
    env = runtime.child_environment(
        {
            "PYTHONPATH": os.pathsep.join(["/a", str(runtime.PACKAGE_ROOT)]),
            "VAECOURSE_CACHE": "cache",
            "OMP_NUM_THREADS": "3",
            "OMP_WAIT_POLICY": "PASSIVE",
        }
    )
    assert env["PYTHONPATH"].split(os.pathsep) == [str(runtime.PACKAGE_ROOT), "/a"]
    assert env["VAECOURSE_CACHE"] == str((runtime.Path.cwd() / "cache").resolve())
    assert env["OMP_NUM_THREADS"] == "3"  # the user's own setting stays
    assert (
        "OMP_WAIT_POLICY" not in env
    )  # what this process's policy chose: the child chooses anew


def test_thread_policy_uses_the_cpus_the_process_may_use_and_sleeps_when_others_are_busy(
    monkeypatch,
):
    monkeypatch.setattr(
        threads.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False
    )
    assert threads.thread_environment({}, busy=0) == {
        "OMP_NUM_THREADS": "3"
    }  # quiet: OpenMP spins
    busy = threads.thread_environment({}, busy=1)
    assert busy == {
        "OMP_NUM_THREADS": "3",
        "OMP_WAIT_POLICY": "PASSIVE",
        "KMP_BLOCKTIME": "0",
    }
    assert (
        threads.thread_environment({"VAECOURSE_THREADS": "2"}, busy=0)[
            "OMP_NUM_THREADS"
        ]
        == "2"
    )
    assert (
        threads.thread_environment({"VAECOURSE_THREADS": "passive"}, busy=0)[
            "OMP_WAIT_POLICY"
        ]
        == "PASSIVE"
    )
    assert threads.thread_environment({"VAECOURSE_THREADS": "torch"}, busy=9) == {}
    assert threads.thread_environment({"OMP_WAIT_POLICY": "ACTIVE"}, busy=9) == {
        "OMP_NUM_THREADS": "3",
        "KMP_BLOCKTIME": "0",
    }  # the user's setting wins
    with pytest.raises(ValueError, match="VAECOURSE_THREADS='many' is not understood"):
        threads.thread_environment({"VAECOURSE_THREADS": "many"})


def test_busy_threads_sees_a_busy_neighbour():
    import subprocess
    import sys

    quiet = threads.busy_threads()
    neighbours = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)
    ]
    try:
        import time

        time.sleep(0.5)
        assert threads.busy_threads() >= min(
            quiet + 1, 2
        )  # two more runnable threads (or a full machine)
    finally:
        for p in neighbours:
            p.kill()
            p.wait()


def test_a_fresh_process_that_imports_the_package_runs_under_the_policy():
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("taskset") is None:
        pytest.skip("needs taskset (Linux) to give the process one CPU")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")
    }
    env.update(PYTHONPATH=str(runtime.PACKAGE_ROOT), VAECOURSE_THREADS="passive")
    code = "import os, vaecourse, torch; print(torch.get_num_threads(), os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["1", "PASSIVE"]  # one usable CPU: one thread
