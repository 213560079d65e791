"""The page that `dvc plots show` writes draws every plot in a real browser, without internet."""

import json
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dvc_render.base import Renderer
from dvc_render.html import PAGE_HTML

from tests.conftest import project_copy, run

pytestmark = pytest.mark.slow


class DrawnPlots(HTMLParser):
    """What each plot's div, a child of <body>, holds in a rendered page: charts, images and their sources."""

    def __init__(self):
        super().__init__()
        self.inside_body = False
        self.plot: str | None = None
        self.div_depth = 0
        self.drawn: dict[str, Counter] = {}
        self.image_sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self.inside_body = True
        elif tag == "div" and self.inside_body:
            if self.div_depth == 0:
                self.plot = attributes.get("id") or ""
                self.drawn.setdefault(self.plot, Counter())
            self.div_depth += 1
        elif self.plot is not None:
            # Vega draws into <canvas class="marks"> or <svg class="marks">; its menu icon is another svg.
            if tag in ("canvas", "svg") and "marks" in (attributes.get("class") or "").split():
                self.drawn[self.plot]["chart"] += 1
            elif tag == "img":
                self.drawn[self.plot]["image"] += 1
                self.image_sources.append(attributes.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.div_depth > 0:
            self.div_depth -= 1
            if self.div_depth == 0:
                self.plot = None


def rendered(page: Path, profile: Path) -> str:
    """The page's DOM once headless Chromium has run its scripts, with every network request refused."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: apt-get install chromium"
    # Port 9 (discard) on loopback has no proxy behind it, so anything fetched from the network fails at once.
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def undrawn_plots(page: Path, declared: dict[str, list[dict]], profile: Path) -> list[str]:
    """What is wrong with the page once rendered: a declared plot not drawn exactly once, or drawn elsewhere."""
    parser = DrawnPlots()
    parser.feed(rendered(page, profile))
    kinds = {"vega": "chart", "image": "image"}
    expected = {
        Renderer.remove_special_chars(name): Counter(kinds[entry["type"]] for entry in entries)
        for name, entries in declared.items()
    }
    drawn = {plot: things for plot, things in parser.drawn.items() if things}
    problems = [
        f"{plot}: expected {dict(expected.get(plot, {}))}, found {dict(drawn.get(plot, {}))}"
        for plot in sorted(expected.keys() | drawn.keys())
        if expected.get(plot) != drawn.get(plot)
    ]
    problems += [f"missing image: {source}" for source in parser.image_sources if not (page.parent / source).is_file()]
    return problems


@pytest.fixture(scope="module")
def project(built_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project after one `dvc repro` on synthetic data: every plot has its data."""
    return project_copy(built_project, tmp_path_factory.mktemp("plots-page") / "project")


@pytest.fixture(scope="module")
def declared(project: Path) -> dict[str, list[dict]]:
    """Every plot that `dvc plots show` draws, by name, with one entry per revision."""
    return json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)["data"]


def test_the_page_draws_every_plot_once_without_internet(project: Path, declared: dict, tmp_path: Path):
    assert {entry["type"] for entries in declared.values() for entry in entries} == {"vega", "image"}
    run(["dvc", "plots", "show"], project)
    page = project / "dvc_plots/index.html"
    assert "cdn.jsdelivr" not in page.read_text(encoding="utf8")

    assert undrawn_plots(page, declared, tmp_path / "profile") == []


def test_dvc_default_page_draws_no_chart_without_internet(project: Path, declared: dict, tmp_path: Path):
    # DVC's own template loads Vega from a CDN: offline, only the images show, and the check must say so.
    default_template = tmp_path / "default.html"
    default_template.write_text(PAGE_HTML, encoding="utf8")
    run(["dvc", "plots", "show", "-o", "default_plots", "--html-template", str(default_template)], project)
    page = project / "default_plots/index.html"

    problems = undrawn_plots(page, declared, tmp_path / "profile")
    charts = sorted(Renderer.remove_special_chars(name) for name in declared if declared[name][0]["type"] == "vega")
    assert problems == [f"{chart}: expected {{'chart': 1}}, found {{}}" for chart in charts]
