"""The README is the front door and the docs site holds the depth: it builds with --strict, offline, and fails on a
broken link."""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY

README_LINES = 200


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `config` into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


class Loads(HTMLParser):
    """What a page makes the browser fetch by itself: scripts, stylesheets, icons, fonts, images."""

    def __init__(self):
        super().__init__()
        self.fetched: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "img", "source", "iframe") and attributes.get("src"):
            self.fetched.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.fetched.append(attributes["href"])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The docs site, built once from the repository."""
    site = tmp_path_factory.mktemp("site")
    result = build(REPOSITORY / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    return site


def test_the_readme_is_short_and_each_of_its_docs_links_is_a_page():
    readme = (REPOSITORY / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    linked = set(re.findall(r"\]\((docs/[^)#]+)", readme))
    assert {"docs/photos.md", "docs/accuracy.md", "docs/getting-started.md"} <= linked
    assert all((REPOSITORY / path).is_file() for path in linked), sorted(linked)


def test_the_site_builds_with_every_page_and_the_files_the_pages_link_to(site: Path):
    pages = {path.stem for path in (REPOSITORY / "docs").glob("*.md")} - {"index"}
    assert all((site / page / "index.html").is_file() for page in pages)
    # Linked from the root, added by docs/hooks.py: a report, a figure and a module.
    for path in ("reports/photos.json", "reports/photos/steps.png", "fashion_mnist/augmentation.py"):
        assert (site / path).read_bytes() == (REPOSITORY / path).read_bytes()
    assert "Shirt" in (site / "photos" / "index.html").read_text()


def test_the_site_fetches_nothing_from_elsewhere(site: Path):
    fetched = []
    for page in site.rglob("*.html"):
        parser = Loads()
        parser.feed(page.read_text())
        fetched += parser.fetched
    assert any(url.endswith(".js") for url in fetched) and any(url.endswith(".css") for url in fetched)
    assert not [url for url in fetched if re.match(r"(https?:)?//", url)]
    stylesheets = "".join(path.read_text() for path in site.rglob("*.css"))
    assert "fonts.googleapis" not in stylesheets and not re.search(r"@import\s+url\(\s*['\"]?https?:", stylesheets)


@pytest.mark.parametrize(
    ("link", "named"),
    [
        ("[gone](/reports/no-such-report.json)", "no-such-report.json"),
        ("[gone](pipeline.md#no-such-part)", "no-such-part"),
    ],
)
def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path, link: str, named: str):
    # The repository as it is, but for one page with a broken link.
    for entry in REPOSITORY.iterdir():
        if entry.name not in ("docs", ".git", ".venv", "site"):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(REPOSITORY / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "resume.md"
    page.write_text(page.read_text() + f"\nSee {link}.\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "built")
    assert result.returncode != 0
    assert "resume.md" in result.stderr and named in result.stderr
