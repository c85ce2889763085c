"""The example notebooks live in the repository's top-level ``notebooks/`` (the wheel maps them
into the package for ``stsmagic demo``), outside ``docs_dir``. This hook adds them to the site as
``notebooks/NAME.ipynb``, before mkdocs-jupyter turns each into a page, and points the pages'
links at them there.

A page links a notebook by its place in the repository (``../notebooks/NAME.ipynb``
from ``docs/index.md``), so the link opens it on GitHub too; in the site, that link is
rewritten to the notebook's page, and ``--strict`` checks it like any other link.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

NOTEBOOKS = Path("notebooks")
SITE_FOLDER = "notebooks"
# a Markdown link or image target ending in .ipynb, with its anchor if any
LINK = re.compile(r"(\]\()([^)\s#]+\.ipynb)(#[^)\s]*)?(\))")


@event_priority(100)  # before mkdocs-jupyter's on_files, which makes pages of .ipynb files
def on_files(files: Files, config: Any) -> Files:
    """Add every ``notebooks/*.ipynb`` to the site under ``notebooks/``."""
    root = Path(config.config_file_path).parent
    for notebook in sorted((root / NOTEBOOKS).glob("*.ipynb")):
        files.append(
            File(
                f"{SITE_FOLDER}/{notebook.name}",
                src_dir=str(root),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Point each link to a notebook of ``notebooks/`` at its page in the site."""
    if not page.file.src_uri.endswith(".md"):
        return markdown
    notebooks = (Path(config.config_file_path).parent / NOTEBOOKS).resolve()
    page_dir = (Path(config.docs_dir) / page.file.src_uri).parent

    def in_site(match: re.Match[str]) -> str:
        target = (page_dir / match[2]).resolve()
        if target.parent != notebooks:
            return match[0]
        here = posixpath.dirname(page.file.src_uri) or "."
        url = posixpath.relpath(f"{SITE_FOLDER}/{target.name}", here)
        return f"{match[1]}{url}{match[3] or ''}{match[4]}"

    return LINK.sub(in_site, markdown)
