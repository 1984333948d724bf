"""Packaging: the declared dependencies agree, and the wheel alone runs every chapter's imports."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

import vaecourse

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = match.group(1).lower().replace("_", "-")
    spec = (
        ",".join(sorted(match.group(2).replace(" ", "").split(",")))
        if match.group(2)
        else ""
    )
    return name, spec


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip section installs the package itself
            continue
        name, spec = _split(dep)
        if name in NOT_PACKAGES:
            continue
        out[CONDA_TO_PYPI.get(name, name)] = spec
    return out


def test_conda_and_pip_list_the_same_packages_with_the_same_bounds():
    pip, conda = _pyproject(), _conda()
    assert sorted(set(pip) - set(conda)) == [], (
        "in pyproject.toml but not environment.yml"
    )
    assert sorted(set(conda) - set(pip)) == [], (
        "in environment.yml but not pyproject.toml"
    )
    differing = {
        name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]
    }
    assert differing == {}, (
        f"version bounds differ (pyproject, environment.yml): {differing}"
    )


def test_constraints_pin_a_torch_that_pyproject_allows():
    pins = dict(
        _split(line)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert pins["torch"].startswith("==")
    version = tuple(int(p) for p in pins["torch"][2:].split(".")[:2])
    lower = _pyproject()["torch"]
    assert lower.startswith(">=") and version >= tuple(
        int(p) for p in lower[2:].split(".")[:2]
    )


def test_parser_sees_real_differences():
    assert _split("jupyter-book>=1.0,<2") == ("jupyter-book", "<2,>=1.0")
    assert _split("Scikit_Learn >= 1.3") == ("scikit-learn", ">=1.3")


def _readme_commands() -> list[str]:
    blocks = re.findall(
        r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S
    )
    return [
        line
        for block in blocks[:2]
        for line in block.splitlines()
        if line and not line.startswith("#")
    ]


def test_ci_runs_the_readme_test_command():
    setup_build, setup_test = _readme_commands()[:2]
    install, test_command = setup_test.split(" && ", 1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert (
        setup_build.endswith("&& python -m vaecourse.build")
        and "python -m vaecourse.build" in ci
    )
    assert test_command in ci.splitlines(), (
        f"CI does not run the README's test command {test_command!r}"
    )
    # CI installs what the README's set-up installs (in its own virtual environment)
    assert install.replace("python -m pip install", "python -m pip install -q") in ci


# ---------------------------------------------------------------------------------------
# The wheel in a fresh virtual environment, without extras: what Colab's
# `pip install "vaecourse @ git+URL"` gives a chapter.

# Imports inside the package that only some commands reach, each with the reason its
# library is not a core dependency.
OPTIONAL_IMPORTS = {
    "sphinx_external_toc": "reading _toc.yml (the chapter timings of bench book), in a checkout with the book extra",
    "sphinx": "the book's Sphinx hooks, which only jupyter-book (the book extra) calls",
    "myst_nb": "glue() stores values for the book when myst-nb is there, and works without",
    "nbclient": "executing notebooks (exercises record, bench book) needs a Jupyter kernel too",
    "markdown_it": "the Colab edition's generator (python -m vaecourse.colab) parses MyST with the book extra",
    "myst_parser": "the Colab edition's generator reads the chapters with MyST's own parser (book extra)",
    "pybtex": "the Colab edition's generator reads the bibliography, as sphinxcontrib-bibtex does (book extra)",
}
# Files the build reads; the copy holds nothing else, so the wheel cannot depend on more.
BUILD_INPUTS = [
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "LICENSE-CONTENT.md",
    "vaecourse",
]


def _import_statements(code: str) -> list[str]:
    """The import statements of a code cell, IPython's % and ! lines left out."""
    lines = code.splitlines()
    python = ["" if line.lstrip().startswith(("%", "!")) else line for line in lines]
    return [
        ast.unparse(node)
        for node in ast.walk(ast.parse("\n".join(python)))
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def _chapter_imports() -> dict[str, list[str]]:
    """Each chapter's import statements, except those of Colab's own modules."""
    chapters = {}
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        statements = set()
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                statements |= set(_import_statements("".join(cell["source"])))
        chapters[notebook.name] = sorted(
            s for s in statements if "google.colab" not in s
        )
    return chapters


def _third_party_imports(paths) -> set[str]:
    """Top-level names of the non-standard modules imported anywhere in ``paths``."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(Path(path).read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"vaecourse"}


def _package_imports() -> set[str]:
    return _third_party_imports((ROOT / "vaecourse").rglob("*.py"))


_CHECK = """
import importlib, importlib.util, json, pkgutil, sys
import vaecourse
task = json.loads(sys.argv[1])
report = {"file": vaecourse.__file__, "version": vaecourse.__version__, "failed": {}}
modules = [m.name for m in pkgutil.walk_packages(vaecourse.__path__, "vaecourse.")
           if not m.name.endswith(".__main__")]  # a command line, run rather than imported
report["modules"] = modules
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:
        report["failed"][name] = repr(error)
for statement in task["statements"]:
    try:
        exec(statement, {})
    except Exception as error:
        report["failed"][statement] = repr(error)
report["missing"] = sorted(n for n in task["names"] if importlib.util.find_spec(n) is None)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the build inputs, install it into a new venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*command):
        done = subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, (
            f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )

    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(tmp / "dist"),
        str(source),
    )
    (wheel,) = (tmp / "dist").glob("vaecourse-*.whl")
    # A venv without pip of its own, filled by this pip (faster than ensurepip), with no
    # bytecode compilation (most of the install time, and irrelevant to the check).
    run(sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv"))
    python = tmp / "venv" / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    run(*pip, "--no-compile", "-c", str(ROOT / "constraints.txt"), str(wheel))
    return wheel


def _fresh_python(wheel: Path) -> Path:
    return wheel.parents[1] / "venv" / "bin" / "python"


@pytest.mark.wheel
def test_wheel_carries_the_version_licences_and_core_dependencies(fresh_install):
    with zipfile.ZipFile(fresh_install) as wheel:
        (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata).decode()
        files = wheel.namelist()
    assert re.search(rf"^Version: {re.escape(vaecourse.__version__)}$", text, re.M)
    assert re.search(r"^License-Expression: MIT$", text, re.M)
    licences = set(re.findall(r"^License-File: (.+)$", text, re.M))
    assert licences == {"LICENSE", "LICENSE-CONTENT.md"}
    assert all(any(f.endswith(f"licenses/{name}") for f in files) for name in licences)
    assert "vaecourse/published_checkpoints.json" in files
    core = {
        _split(r)[0]
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
    }
    required = {
        _split(r.split(";")[0])[0]
        for r in re.findall(r"^Requires-Dist: (.+)$", text, re.M)
        if "extra ==" not in r
    }
    assert required == core


@pytest.mark.wheel
def test_fresh_install_without_extras_imports_the_package_and_every_chapter_import(
    fresh_install, tmp_path
):
    statements = sorted({s for found in _chapter_imports().values() for s in found})
    names = sorted(_package_imports() - set(OPTIONAL_IMPORTS))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run(
        [
            str(_fresh_python(fresh_install)),
            "-c",
            _CHECK,
            json.dumps({"statements": statements, "names": names}),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert Path(report["file"]).is_relative_to(fresh_install.parents[1] / "venv"), (
        "imported the checkout"
    )
    assert report["version"] == vaecourse.__version__
    expected = {
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        for p in (ROOT / "vaecourse").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert expected <= set(report["modules"]), "the wheel lacks modules"
    assert report["failed"] == {}
    assert report["missing"] == [], (
        "the package imports libraries that no core dependency installs"
    )


def test_import_scans_see_imports_inside_functions_and_skip_magics(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import os, numpy as np\n\ndef f():\n    from yaml import safe_load\n"
    )
    assert _third_party_imports([module]) == {"numpy", "yaml"}
    cell = "%pip install x\nimport torch\nif True:\n    from a.b import c as d\n"
    assert _import_statements(cell) == ["import torch", "from a.b import c as d"]


def test_every_chapter_imports_the_package():
    chapters = _chapter_imports()
    assert len(chapters) == len(list((ROOT / "book").glob("*.ipynb"))) > 0
    without = [
        name
        for name, found in chapters.items()
        if not any("vaecourse" in s for s in found)
    ]
    assert without == []
