"""Shared helpers for the bench scripts: a download cache of pinned releases, and unpacked trees."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("KEEPREF_BENCH_CACHE", Path.home() / ".cache" / "keepref-lint-bench"))


def wheel(name: str, version: str, python: str | None = None) -> Path:
    """The wheel of ``name==version`` from PyPI, downloaded once into the cache.

    ``python``: the Python version the wheel is for, when the release does not support this interpreter
    (homeassistant needs 3.13.2); pip then takes a wheel as it is, without building or checking it.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    prefix = f"{re.sub(r'[-_.]+', '_', name)}-{version}-"  # the wheel's name, normalized (PEP 427)
    for path in CACHE.glob("*.whl"):
        if path.name.startswith(prefix):
            return path
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(CACHE),
            *(["--python-version", python, "--only-binary", ":all:"] if python else []),
            f"{name}=={version}",
        ],
        check=True,
    )
    for path in CACHE.glob("*.whl"):
        if path.name.startswith(prefix):
            return path
    raise SystemExit(f"bench: pip downloaded no wheel for {name}=={version}")


def unpacked(name: str, version: str, dest: Path, *, package: str | None = None) -> Path:
    """Unpack the release's Python package under ``dest/python/`` (a fresh copy); returns ``dest``."""
    package = package or name
    archive = wheel(name, version)
    if dest.exists():
        shutil.rmtree(dest)
    target = dest / "python"
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if m.startswith(f"{package}/")]
        zf.extractall(target, members)
    return dest


def keepref(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepref_lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
