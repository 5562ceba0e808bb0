"""Train the Rasa model only when its inputs changed; reuse a cached model otherwise.

The model's name is a hash of everything that shapes it: ``config.yml``, ``domain.yml``, the
training data and the code of our NLU components (and the pinned dependency set). A model with
that name in ``models/`` or in the cache folder (``SMO_MODEL_CACHE``, default
``~/.cache/smo-assistant/models``, which survives fresh clones on the same machine, e.g. in CI) is
used as is.

``python -m bot.model path``    prints the up-to-date model's path, training it if needed
``python -m bot.model hash``    prints the inputs' hash
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bot.paths import ROOT

MODEL_INPUTS = (
    "config.yml",
    "domain.yml",
    "constraints.txt",
    "data/nlu",
    "data/rules",
    "data/stories",
    "data/lexicon/jieba",
    "bot/nlu",
    "bot/language.py",
    "bot/segmenter.py",
    "bot/plans.py",
)
IGNORED_SUFFIXES = (".pyc", ".md")


def _input_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in MODEL_INPUTS:
        path = root / name
        if path.is_dir():
            files.extend(
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in IGNORED_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
    return sorted(files)


def inputs_hash(root: Path = ROOT) -> str:
    """Stable hash of the model's inputs (paths and contents)."""
    digest = hashlib.sha256()
    for file in _input_files(root):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """Where trained models are kept across clones."""
    default = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smo-assistant" / "models"
    )
    return Path(os.environ.get("SMO_MODEL_CACHE", default))


def _meta(model: Path) -> Path:
    """The JSON beside a model file (its training time)."""
    return model.with_suffix("").with_suffix(".json")


def model_name(root: Path = ROOT) -> str:
    """File name (without ``.tar.gz``) of the model built from the current inputs."""
    return f"smo-{inputs_hash(root)}"


def ensure_model(root: Path = ROOT, *, force: bool = False) -> Path:
    """Path of an up-to-date model in ``models/``: existing, copied from the cache, or trained.

    Serialised by a lock file: two callers at once (a test run and ``make run``) would otherwise
    both train, each at half speed, and race on the same file.
    """
    import fcntl

    (root / "models").mkdir(parents=True, exist_ok=True)
    with (root / "models" / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_model(root, force=force)


def _ensure_model(root: Path, *, force: bool) -> Path:
    name = model_name(root)
    target = root / "models" / f"{name}.tar.gz"
    cached = cache_dir() / target.name
    if not force and target.exists():
        print(f"model up to date: {target.relative_to(root)}", file=sys.stderr)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if not force and cached.exists():
        shutil.copy2(cached, target)
        if _meta(cached).exists():
            shutil.copy2(_meta(cached), _meta(target))
        print(
            f"model up to date (from cache {cached}): {target.relative_to(root)}", file=sys.stderr
        )
        return target
    print(f"training model {name} (inputs changed)", file=sys.stderr)
    started = time.monotonic()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("rasa")),
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data/nlu",
            "data/rules",
            "data/stories",
            "--out",
            "models",
            "--fixed-model-name",
            name,
        ],
        cwd=root,
        check=True,
    )
    elapsed = time.monotonic() - started
    print(f"trained {target.relative_to(root)} in {elapsed:.0f} s", file=sys.stderr)
    meta = _meta(target)
    meta.write_text(json.dumps({"training_seconds": round(elapsed, 1)}), encoding="utf-8")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, cached)
        shutil.copy2(meta, _meta(cached))
    except OSError as exc:  # a read-only cache must not fail the build
        print(f"note: could not cache the model: {exc}", file=sys.stderr)
    return target


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Model cache keyed by a hash of its inputs.")
    parser.add_argument("command", choices=["path", "hash", "train"])
    args = parser.parse_args(argv)
    if args.command == "hash":
        print(inputs_hash())
    elif args.command == "train":
        print(ensure_model(force=True))
    else:
        print(ensure_model())


if __name__ == "__main__":
    main()
