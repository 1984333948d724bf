"""The rendered book, opened page by page in headless Chromium as a reader would see it.

For every page listed in ``_toc.yml`` the test checks that the page loads without console
errors, that its math is typeset by MathJax, that every image loads, that no output shows a
traceback, an exception, progress-bar litter or a widget's raw text, that exercise solutions
are collapsed and open on a click, and that a chapter's Colab link opens its Colab edition in the
repository named in ``_config.yml``. A full-page screenshot of each page goes to
``$VAECOURSE_ARTIFACTS/screenshots/`` (default ``_artifacts/screenshots/``), with a
``layout.json`` of what the checks measured (e.g. tables wider than the text column).

Which HTML is tested:

1. ``VAECOURSE_BOOK_HTML=path/to/_build/html``: that build (CI builds the book first, then
   points the tests at it);
2. otherwise ``_build/html`` when its ``index.html`` is newer than every page source,
   ``_config.yml`` and ``_toc.yml``;
3. otherwise the book is built in quick mode into a temporary folder (minutes).

Requirements: Chromium (``apt-get install chromium``; ``VAECOURSE_CHROMIUM`` names another
binary), the ``playwright`` Python package (its own browser download is never used), and
MathJax 3 from npm (``npm ci --prefix tests/browser_support``; ``VAECOURSE_MATHJAX`` names
another ``mathjax`` folder). The CDNs are unreachable in CI, so CDN requests are answered from
``tests/browser_support/node_modules`` (MathJax); other external requests (require.js and the
Jupyter widget manager, unused because the build renders static figures) get an empty
response, and the test lists them; console errors about those URLs (e.g. a failed integrity
check) come from the missing network and are listed, not counted. The published book keeps
its normal CDN configuration.
Where any of the three is missing the test is skipped, and the reason, which pytest's closing
summary prints, names the command that adds each missing piece.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from vaecourse.notebook import toc_pages

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = Path(__file__).resolve().parent / "browser_support"
# Console errors that come from the toolchain, not from the book, each with its reason.
KNOWN_CONSOLE_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared": "sphinx-thebe 0.3.1 adds its configuration script twice under Jupyter Book 1.0 / Sphinx 7 "
    "(a clean one-page book shows it too); Thebe is off in this book, so nothing breaks",
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _toc_pages() -> list[str]:
    """Page paths (without suffix) listed in ``_toc.yml``, in reading order."""
    return toc_pages(ROOT)


PAGES = _toc_pages()


def _source(page: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{page}{suffix}").exists():
            return ROOT / f"{page}{suffix}"
    return None


def _chromium() -> str | None:
    candidates = [
        os.environ.get("VAECOURSE_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ]
    return next((c for c in candidates if c and Path(c).exists()), None)


def _mathjax_dir() -> Path | None:
    for candidate in (
        os.environ.get("VAECOURSE_MATHJAX"),
        SUPPORT / "node_modules" / "mathjax",
    ):
        if candidate and (Path(candidate) / "es5" / "tex-mml-chtml.js").exists():
            return Path(candidate)
    return None


def _artifacts() -> Path:
    base = Path(os.environ.get("VAECOURSE_ARTIFACTS") or ROOT / "_artifacts")
    folder = base / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------------------------------
# Fixtures: the HTML, a local server, the browser


def _fresh(html: Path) -> bool:
    index = html / "index.html"
    if not index.exists():
        return False
    sources = [ROOT / "_config.yml", ROOT / "_toc.yml"] + [
        s for p in PAGES if (s := _source(p))
    ]
    return all(s.stat().st_mtime <= index.stat().st_mtime for s in sources)


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    given = os.environ.get("VAECOURSE_BOOK_HTML")
    if given:
        html = Path(given)
        if not (html / "index.html").exists():
            pytest.fail(
                f"VAECOURSE_BOOK_HTML={given} holds no index.html; build the book first "
                "(jupyter-book build .) or unset the variable"
            )
        return html
    if _fresh(ROOT / "_build" / "html"):
        return ROOT / "_build" / "html"
    out = tmp_path_factory.mktemp("book")
    env = {**os.environ, "VAECOURSE_QUICK": "1"}
    jupyter_book = Path(sys.executable).with_name(
        "jupyter-book"
    )  # the console script of this environment
    build = subprocess.run(
        [
            str(jupyter_book) if jupyter_book.exists() else "jupyter-book",
            "build",
            str(ROOT),
            "--path-output",
            str(out),
            "--keep-going",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    html = out / "_build" / "html"
    if not (html / "index.html").exists():
        pytest.fail(
            f"the quick book build failed (exit {build.returncode}):\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
        )
    return html


@pytest.fixture(scope="session")
def server(book_html):
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def _missing_setup() -> list[str]:
    """What the browser test lacks, each with the one command that adds it."""
    missing = []
    if _chromium() is None:
        missing.append(
            "Chromium (`apt-get install chromium`, or set VAECOURSE_CHROMIUM)"
        )
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (`python -m pip install playwright`)")
    if _mathjax_dir() is None:
        missing.append(
            "MathJax 3 (`npm ci --prefix tests/browser_support`, or set VAECOURSE_MATHJAX)"
        )
    return missing


@pytest.fixture(scope="session")
def browser():
    if missing := _missing_setup():
        pytest.skip("the browser test needs " + "; ".join(missing))
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# ---------------------------------------------------------------------------------------
# CDN requests answered locally


def _local_file(url: str) -> Path | None:
    """The file in ``tests/browser_support`` that stands in for a CDN URL, if any."""
    parsed = urlparse(url)
    path = parsed.path
    mathjax = re.search(r"/mathjax@[^/]*/(.+)$", path)
    if mathjax and (local := _mathjax_dir()):
        return local / mathjax.group(1)
    npm = re.match(r"/npm/((?:@[^/]+/)?[^/@]+)@[^/]+/(.+)$", path)
    if parsed.netloc == "cdn.jsdelivr.net" and npm:
        candidate = SUPPORT / "node_modules" / npm.group(1) / npm.group(2)
        return candidate if candidate.exists() else None
    return None


def _route(stubbed: list[str]):
    def handle(route):
        url = route.request.url
        if urlparse(url).hostname in ("127.0.0.1", "localhost") or url.startswith(
            ("data:", "blob:")
        ):
            return route.continue_()
        local = _local_file(url)
        if local is not None and local.is_file():
            content_type = (
                mimetypes.guess_type(local.name)[0] or "application/octet-stream"
            )
            return route.fulfill(
                status=200,
                body=local.read_bytes(),
                content_type=content_type,
                headers={"Access-Control-Allow-Origin": "*"},
            )
        stubbed.append(url)
        content_type = (
            "text/css"
            if url.split("?")[0].endswith(".css")
            else "application/javascript"
        )
        return route.fulfill(status=200, body=b"", content_type=content_type)

    return handle


# ---------------------------------------------------------------------------------------
# The checks, page by page

_OUTPUT_PROBLEMS = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)|Traceback"),
    "an exception": re.compile(r"Exception|\b[A-Z][A-Za-z]*Error: "),
    "progress-bar litter": re.compile(r"\d+it/s\]|\d+%\|[#█▏▎▍▌▋▊▉ ]*\|"),
    "an unrendered Markdown table (set nb_render_markdown_format: myst)": re.compile(
        r"\|\s*[-—–:]+\s*\|\s*[-—–:]+"
    ),
    "a widget's raw text": re.compile(
        r"\b(?:interactive|HBox|VBox|IntSlider|FloatSlider|Dropdown)\(children=|"
        r"\b(?:IntSlider|FloatSlider)\(value=|Widget Javascript not detected|"
        r"Loading widget\.\.\."
    ),
}


def _colab_url(page: str) -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].rstrip("/").removesuffix(".git")
    org_repo = "/".join(repo.split("/")[-2:])
    # the Colab edition's branch, which the publish workflow writes (book/_ext/course_colab.py)
    branch = config["sphinx"]["config"]["course_colab_branch"]
    prefix = config["repository"].get("path_to_book", "").strip("/")
    path = "/".join(filter(None, [prefix, f"{page}.ipynb"]))
    return f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{path}"


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(page, browser, server, book_html):
    if not (book_html / f"{page}.html").exists():
        pytest.fail(
            f"{page} is listed in _toc.yml but {page}.html is not in the build at {book_html}"
        )
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, device_scale_factor=1
    )
    page_ = context.new_page()
    errors: list[str] = []
    stubbed: list[str] = []
    page_.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error"
            else None
        ),
    )
    page_.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page_.route("**/*", _route(stubbed))
    try:
        response = page_.goto(
            f"{server}/{page}.html", wait_until="load", timeout=60_000
        )
        assert response is not None and response.ok, (
            f"{page}.html answered {response and response.status}"
        )
        problems: list[str] = []

        # Math: wait for MathJax, then every math node must hold typeset output and no TeX error.
        n_math = page_.locator(".math").count()
        if n_math:
            page_.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=30_000,
            )
            page_.evaluate("() => MathJax.startup.promise")
            untypeset = page_.evaluate(
                "() => Array.from(document.querySelectorAll('.math'))"
                ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"
            )
            tex_errors = page_.evaluate(
                "() => Array.from(document.querySelectorAll('mjx-merror'))"
                ".map(e => e.getAttribute('data-mjx-error') || e.textContent)"
            )
            if untypeset:
                problems.append(
                    f"{len(untypeset)} of {n_math} math nodes not typeset, e.g. {untypeset[:3]}"
                )
            if tex_errors:
                problems.append(f"TeX errors: {tex_errors[:5]}")

        # Images: every <img> decoded with a positive natural width.
        page_.evaluate(
            "() => Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))"
        )
        broken = page_.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.getAttribute('src'))"
        )
        if broken:
            problems.append(f"images that did not load: {broken}")

        # Outputs: no tracebacks, exceptions, progress bars or widget text; no live widget without a manager.
        outputs = page_.evaluate(
            "() => Array.from(document.querySelectorAll('.cell_output, .output'))"
            ".map(e => e.innerText)"
        )
        for what, pattern in _OUTPUT_PROBLEMS.items():
            hits = [m.group(0) for text in outputs for m in [pattern.search(text)] if m]
            if hits:
                problems.append(f"an output shows {what}: {hits[:3]}")
        widget_views = page_.locator(
            'script[type="application/vnd.jupyter.widget-view+json"]'
        ).count()
        if widget_views:
            problems.append(
                f"{widget_views} live widget view(s) in a static page: the build should show the "
                "static fallback figure (vaecourse.notebook.interactive_or_static)"
            )

        # Colab: a chapter's launch link opens this notebook in this repository.
        if (source := _source(page)) is not None and source.suffix == ".ipynb":
            links = page_.eval_on_selector_all(
                'a[href*="colab.research.google.com"]', "els => els.map(e => e.href)"
            )
            expected = _colab_url(page)
            if expected not in links:
                problems.append(f"Colab link {links or 'missing'}; expected {expected}")

        # Layout notes for the reviewer (not failures): what is wider than the text column.
        layout = page_.evaluate("""() => {
            const column = document.querySelector('article.bd-article') || document.querySelector('main')
                || document.body;
            const box = column.getBoundingClientRect();
            const clip = (t) => (t || '').replace(/\\s+/g, ' ').trim().slice(0, 70);
            const tables = [], code = [], figures = [];
            for (const t of column.querySelectorAll('table')) {
                const r = t.getBoundingClientRect();
                if (r.right > box.right + 1 || t.scrollWidth > box.width + 1)
                    tables.push({width: Math.round(Math.max(r.width, t.scrollWidth)), head: clip(t.innerText)});
            }
            for (const p of column.querySelectorAll('pre')) {
                if (p.offsetParent !== null && p.scrollWidth > p.clientWidth + 1) {  // visible, scrolling
                    const long = p.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
                    code.push({chars: long.length, line: clip(long)});
                }
            }
            for (const i of column.querySelectorAll('img')) {
                const r = i.getBoundingClientRect();
                if (r.right > box.right + 1 || (i.naturalWidth > 0 && r.width > 0 && r.width < 0.5 * i.naturalWidth))
                    figures.push({src: i.getAttribute('src'), shown: Math.round(r.width), natural: i.naturalWidth});
            }
            return {column_width: Math.round(box.width), tables_wider_than_column: tables,
                    code_scrolling_sideways: code, images_clipped_or_shrunk_below_half: figures};
        }""")
        page_.evaluate("() => window.scrollTo(0, 0)")
        shots = _artifacts()
        name = page.replace("/", "_")
        page_.screenshot(
            path=str(shots / f"{name}.png"), full_page=True
        )  # as a reader first sees it

        # Exercise solutions: collapsed at first, shown after a click on their title.
        solutions = page_.locator("div.solution.dropdown")
        for i in range(solutions.count()):
            solution = solutions.nth(i)
            body = solution.locator(
                ":scope > :not(.admonition-title):not(button)"
            ).first
            if body.count() == 0:
                continue
            label = solution.get_attribute("id") or f"solution {i + 1}"
            if body.is_visible():
                problems.append(
                    f"{label} is shown before any click (expected a collapsed dropdown)"
                )
                continue
            solution.locator(":scope > .admonition-title").click()
            try:
                body.wait_for(state="visible", timeout=5_000)
            except Exception:  # noqa: BLE001 - playwright's TimeoutError; reported below
                problems.append(f"{label} does not open on a click on its title")

        record = dict(
            page=page,
            console_errors=errors,
            stubbed_external=sorted(set(stubbed)),
            problems=problems,
            math_nodes=n_math,
            images=page_.evaluate("() => document.images.length"),
            solutions=solutions.count(),
            **layout,
        )
        (shots / f"{name}.json").write_text(json.dumps(record, indent=1))
        if stubbed:
            print(
                f"{page}: external requests answered with an empty body: {sorted(set(stubbed))}"
            )
        notes = {k: v for k, v in layout.items() if isinstance(v, list) and v}
        if notes:
            print(f"{page}: layout notes: {json.dumps(notes)}")

        offline = sorted(set(stubbed))
        known = [e for e in errors if any(k in e for k in KNOWN_CONSOLE_ERRORS)]
        from_offline = [
            e for e in errors if e not in known and any(u in e for u in offline)
        ]
        if known or from_offline:
            print(
                f"{page}: console errors not counted (known toolchain issue, or a CDN file absent offline): "
                f"{known + from_offline}"
            )
        problems += [
            f"console error: {e}"
            for e in errors
            if e not in known and e not in from_offline
        ]
        assert not problems, f"{page}:\n  " + "\n  ".join(problems)
    finally:
        context.close()
