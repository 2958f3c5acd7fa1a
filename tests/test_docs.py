"""The documentation site, built by Sphinx, opened in headless Chromium.

The docs are built into ``docs/_build/html`` (incrementally: ``make test`` has
just built them with warnings as errors), served from a local ``http.server``
thread on 127.0.0.1, and two pages are opened: the home page and the API page
of :class:`~dejavu_lab.dejavu.Dejavu`. Screenshots go to
``test-artifacts/docs_*.png`` (gitignored) for a human to look at.

Needs Sphinx and the ``docs`` extra, Debian's ``chromium`` and the Python
package ``playwright`` (driving it with ``executable_path``; never
``playwright install``). Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import chromium_missing

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
HTML = DOCS / "_build" / "html"
ARTIFACTS = REPO / "test-artifacts"
DEJAVU_PAGE = "generated/dejavu_lab.dejavu.Dejavu.html"
#: Every <img> of the page's article has loaded and has a width.
IMAGES_RENDERED = """() => {
    const images = Array.from(document.querySelectorAll("article img"));
    return images.map(img => ({src: img.getAttribute("src"), complete: img.complete,
                                width: img.naturalWidth}));
}"""


def _missing() -> str:
    reason = chromium_missing()
    if reason:
        return reason
    for module, package in (
        ("sphinx", "sphinx"),
        ("myst_nb", "myst-nb"),
        ("numpydoc", "numpydoc"),
        ("pydata_sphinx_theme", "pydata-sphinx-theme"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"the Python package {package} is not installed: pip install -e '.[docs]'"
    return ""


@pytest.fixture(scope="session")
def docs_html() -> Path:
    """docs/_build/html, brought up to date by Sphinx (what ``make docs`` runs)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(DOCS), str(HTML)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return HTML


@pytest.fixture(scope="session")
def docs_url(docs_html: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1 by a local http.server thread."""
    handler = functools.partial(QuietHandler, directory=str(docs_html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def page(docs_url: str, chromium) -> Iterator[object]:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    # Only 127.0.0.1 is contacted: the CDN scripts a page links (MathJax, the
    # widget manager of the notebook pages) are refused, and not needed here.
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(docs_url) else route.abort()
        ),
    )
    failed: list[str] = []
    page.on(
        "requestfailed",
        lambda request: failed.append(request.url) if request.url.startswith(docs_url) else None,
    )
    yield page
    assert not failed, f"pages or files of the site that failed to load: {failed}"


def test_home_page_renders_with_navigation_and_a_figure(page, docs_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(docs_url + "index.html", wait_until="load")
    expect(page).to_have_title("dejavu-lab — dejavu-lab " + _version())
    # The header's navigation bar lists the top-level pages of the user guide.
    navbar = page.get_by_role("banner").get_by_role("navigation").first
    expect(navbar).to_be_visible()
    expect(navbar.get_by_role("link", name="The pipeline")).to_be_visible()
    expect(page.locator("article h1").first).to_have_text("dejavu-lab#")
    images = page.evaluate(IMAGES_RENDERED)
    page.screenshot(path=str(ARTIFACTS / "docs_home.png"), full_page=True)
    assert any(image["src"].endswith("accuracy.png") for image in images), images
    assert images and all(image["complete"] and image["width"] > 0 for image in images), images


def test_studies_page_shows_every_figure(page, docs_url: str) -> None:
    page.goto(docs_url + "studies.html", wait_until="load")
    images = page.evaluate(IMAGES_RENDERED)
    page.screenshot(path=str(ARTIFACTS / "docs_studies.png"), full_page=True)
    assert len(images) == 8, images
    assert all(image["complete"] and image["width"] > 0 for image in images), images


def test_api_page_of_dejavu_renders_its_docstring(page, docs_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(docs_url + DEJAVU_PAGE, wait_until="load")
    expect(page).to_have_title("Dejavu — dejavu-lab " + _version())
    expect(page.get_by_role("banner").get_by_role("navigation").first).to_be_visible()
    # The primary sidebar lists the other API pages of the module.
    expect(page.locator("nav.bd-docs-nav")).to_be_visible()
    signature = page.locator("dt#dejavu_lab\\.dejavu\\.Dejavu")
    expect(signature).to_be_visible()
    expect(signature).to_contain_text("Dejavu")
    # numpydoc turned the Parameters section into a field list, and methods are documented.
    expect(page.locator("dl.field-list").first).to_contain_text("Parameters")
    expect(page.locator("dt#dejavu_lab\\.dejavu\\.Dejavu\\.recognize")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "docs_dejavu_api.png"), full_page=False)


def _version() -> str:
    from dejavu_lab import __version__

    return __version__


def test_notebook_page_shows_the_figures_its_execution_drew(page, docs_url: str) -> None:
    if os.environ.get("DEJAVU_LAB_DOCS_EXECUTE") == "off":
        pytest.skip("the docs were built without executing the notebooks")
    page.goto(docs_url + "notebooks/01_spectrogram_peaks.html", wait_until="load")
    images = page.evaluate(IMAGES_RENDERED)
    page.screenshot(path=str(ARTIFACTS / "docs_notebook_01.png"), full_page=True)
    # The committed notebook has no outputs: these figures were drawn by the docs build.
    assert len(images) >= 2, images
    assert all(image["complete"] and image["width"] > 0 for image in images), images
