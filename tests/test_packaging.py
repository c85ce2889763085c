"""What a release carries, checked in the source tree (tests/test_wheel.py checks the built
wheel): the license, the version, the classifiers of the Pythons the test command runs, extras
a user can install beside other packages, and the links to the repository."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

from stsmagic._version import __version__

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The Apache License 2.0 exactly as the ASF publishes it (www.apache.org/licenses/LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_is_the_apache_2_text_and_the_metadata_names_it() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "License :: OSI Approved :: Apache Software License" not in PROJECT["classifiers"]


def test_stsmagic_version_prints_the_one_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stsmagic.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"stsmagic {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert PROJECT["dynamic"] == ["version"]  # read from stsmagic/_version.py, nowhere else


def pythons_under_test() -> list[str]:
    """The versions scripts/test runs: its other Pythons, and the main one of CI (3.11)."""
    script = (ROOT / "scripts" / "test").read_text()
    others = re.search(r'OTHER_PYTHONS="\$\{STSMAGIC_OTHER_PYTHONS-([\d. ]+)\}"', script)
    assert others, "scripts/test names no other Pythons"
    return sorted({*others.group(1).split(), "3.11"}, key=lambda v: tuple(map(int, v.split("."))))


def test_classifiers_name_each_python_the_test_command_runs() -> None:
    versions = pythons_under_test()
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    named = [
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert named == versions
    assert PROJECT["requires-python"] == f">={versions[0]}"
    assert any(c.startswith("Development Status :: ") for c in PROJECT["classifiers"])
    assert any(c.startswith("Operating System :: ") for c in PROJECT["classifiers"])


def test_the_s3_extra_sets_no_upper_bound_a_newer_aiobotocore_would_outdate() -> None:
    """`stsmagic[s3]` leaves boto3 and botocore to aiobotocore's own pin; only the project's own
    environments (the demo extra, which binder and the tests install) carry the hand-made bound
    that spares pip its backtracking."""
    extras = PROJECT["optional-dependencies"]
    assert not [r for r in extras["s3"] if r.startswith(("boto3", "botocore", "aiobotocore"))]
    assert [r for r in PROJECT["dependencies"] if "<" in r] == []
    pinned = [r for r in extras["demo"] if r.startswith("boto3")]
    assert len(pinned) == 1 and "<" in pinned[0]
    assert "stsmagic[demo]" in extras["test"]


def test_the_metadata_links_the_repository() -> None:
    urls = PROJECT["urls"]
    assert sorted(urls) == ["Changelog", "Documentation", "Issues", "Source"]
    assert urls["Source"] == "https://github.com/stsmagic/stsmagic"
    assert all(
        url.startswith(urls["Source"] + "/") for name, url in urls.items() if name != "Source"
    )


def test_the_demo_extra_brings_the_aws_cli_notebook_06_runs() -> None:
    assert "!aws " in (ROOT / "notebooks" / "06-pandas-and-friends.ipynb").read_text()
    (aws,) = [r for r in PROJECT["optional-dependencies"]["demo"] if r.startswith("awscli")]
    assert aws.startswith("awscli>=")  # the bound that keeps pip's search short


def test_the_jupyterlab_extension_has_the_package_version() -> None:
    """`jupyter labextension list` shows package.json's version: it is stsmagic's own (bump
    labextension/package.json with stsmagic/_version.py; its lock file names it too)."""
    import json

    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    lock = json.loads((ROOT / "labextension" / "package-lock.json").read_text())
    assert package["name"] == "stsmagic"
    assert package["version"] == __version__
    assert lock["version"] == lock["packages"][""]["version"] == __version__
    assert package["jupyterlab"]["outputDir"] == "../stsmagic/labextension"


def test_the_wheel_enables_the_server_extension_and_installs_the_labextension() -> None:
    import json

    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    shared = build["targets"]["wheel"]["shared-data"]
    assert shared["stsmagic/labextension"] == "share/jupyter/labextensions/stsmagic"
    config = "jupyter-config/server-config/stsmagic.json"
    assert shared[config] == "etc/jupyter/jupyter_server_config.d/stsmagic.json"
    assert json.loads((ROOT / config).read_text()) == {
        "ServerApp": {"jpserver_extensions": {"stsmagic": True}}
    }
    import stsmagic

    assert stsmagic._jupyter_labextension_paths() == [{"src": "labextension", "dest": "stsmagic"}]
    assert stsmagic._jupyter_server_extension_points() == [{"module": "stsmagic.server"}]
