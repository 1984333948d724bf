"""environment.yml (conda) and pyproject.toml declare the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = match.group(1).lower().replace("_", "-")
    spec = ",".join(sorted(match.group(2).replace(" ", "").split(","))) if match.group(2) else ""
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
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml but not environment.yml"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml but not pyproject.toml"
    differing = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]}
    assert differing == {}, f"version bounds differ (pyproject, environment.yml): {differing}"


def test_constraints_pin_a_torch_that_pyproject_allows():
    pins = dict(_split(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#"))
    assert pins["torch"].startswith("==")
    version = tuple(int(p) for p in pins["torch"][2:].split(".")[:2])
    lower = _pyproject()["torch"]
    assert lower.startswith(">=") and version >= tuple(int(p) for p in lower[2:].split(".")[:2])


def test_parser_sees_real_differences():
    assert _split("jupyter-book>=1.0,<2") == ("jupyter-book", "<2,>=1.0")
    assert _split("Scikit_Learn >= 1.3") == ("scikit-learn", ">=1.3")


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line for block in blocks[:2] for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    setup_build, setup_test = _readme_commands()[:2]
    install, test_command = setup_test.split(" && ", 1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup_build.endswith("&& python -m vaecourse.build") and "python -m vaecourse.build" in ci
    assert test_command in ci.splitlines(), f"CI does not run the README's test command {test_command!r}"
    # CI installs what the README's set-up installs (in its own virtual environment)
    assert install.replace("python -m pip install", "python -m pip install -q") in ci
