"""MkDocs hook: the repository's files that the pages link to from the root (`/reports/...`), added to the site.

The pages link to the reports, the figures and the code with paths from the repository's root, which GitHub
resolves there; MkDocs resolves them from the docs folder (`validation.absolute_links: relative_to_docs`), so each
linked file is added to the site at the same path. A link to a file that does not exist stays unresolved, and
`mkdocs build --strict` fails on it.
"""

import re
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

# A link's or image's target from the root, without its #fragment: `](/path)` or `](/path#part)`.
ROOT_LINK = re.compile(r"\]\(/([^)#\s]+)")


class RepositoryFile(File):
    """A file of the repository outside docs/, copied as it is, Markdown included (not rendered as a page)."""

    def is_documentation_page(self) -> bool:
        return False


def on_files(files: Files, config) -> Files:
    root = Path(config["docs_dir"]).parent
    linked = {
        path
        for page in files.documentation_pages(inclusion=InclusionLevel.is_included)
        for path in ROOT_LINK.findall(Path(page.abs_src_path).read_text())
    }
    for path in sorted(linked):
        if (root / path).is_file() and files.get_file_from_path(path) is None:
            files.append(RepositoryFile(path, str(root), config["site_dir"], config["use_directory_urls"]))
    return files
