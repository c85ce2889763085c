"""The example notebooks live in the package (``stsmagic/notebooks/``, so the wheel ships them
for ``stsmagic demo``), outside ``docs_dir``. This hook adds them to the site as
``notebooks/NAME.ipynb``, before mkdocs-jupyter turns each into a page: the docs link to
``notebooks/01-quick-start.ipynb`` like any other page, and ``--strict`` checks those links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

NOTEBOOKS = Path("stsmagic") / "notebooks"


@event_priority(100)  # before mkdocs-jupyter's on_files, which makes pages of .ipynb files
def on_files(files: Files, config: Any) -> Files:
    """Add every ``stsmagic/notebooks/*.ipynb`` to the site under ``notebooks/``."""
    root = Path(config.config_file_path).parent
    for notebook in sorted((root / NOTEBOOKS).glob("*.ipynb")):
        files.append(
            File(
                f"notebooks/{notebook.name}",
                src_dir=str(root / NOTEBOOKS.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files
