"""Where the project's data lives, so modules never guess relative to the working directory."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SMO_DATA_DIR", ROOT / "data"))
