"""The consent wording's version, so a stored consent says exactly what the customer agreed to.

The version lives in ``data/consent.yml`` with a fingerprint of the consent response's texts; a test
fails when the wording changes without a new version, so an old consent never covers new wording.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

import yaml

from bot.paths import DATA_DIR, ROOT
from bot.yamlfile import load_yaml

CONSENT_RESPONSE = "utter_ask_consent_given"


@lru_cache(maxsize=1)
def wording_version() -> str:
    """The version customers consent to (``data/consent.yml``)."""
    return str(load_yaml(DATA_DIR / "consent.yml")["version"])


def wording_fingerprint() -> str:
    """SHA-256 of the consent response's variants as they are in domain.yml now."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    texts = [v.get("text", "") for v in domain["responses"][CONSENT_RESPONSE]]
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()
