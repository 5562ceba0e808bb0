"""Reading the project's YAML data files with a clear error that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class DataFileError(ValueError):
    """A data file is missing or malformed; the message names the file."""


def load_yaml(path: Path) -> Any:
    """Parse ``path`` safely; raise :class:`DataFileError` naming the file on any problem."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError as exc:
        raise DataFileError(f"data file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise DataFileError(f"data file {path} is not valid YAML: {exc}") from exc
