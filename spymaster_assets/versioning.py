"""Code versions: package version + the config sections an asset reads + their hash (DESIGN §5).

The config is read when first asked for (`current_config`), not at import, and once per
`SPYMASTER_CONFIG` value, so every asset of a run sees the same config.
"""

from __future__ import annotations

import functools
import os

import spymaster_core
from spymaster_core.config import Config, config_hash, load_config


@functools.cache
def _config_at(path: str) -> Config:
    return load_config(path or None)


def current_config() -> Config:
    """The run's `Config`: the JSON file named by `SPYMASTER_CONFIG`, else the defaults. Raises
    ValueError naming the file when it does not validate."""
    return _config_at(os.environ.get("SPYMASTER_CONFIG", ""))


def code_version(*sections: str) -> str:
    """e.g. `0.1.0-labels+levels-3f2a...`: the package version, the config sections the asset reads
    (so the UI and the code-location snapshot show them) and their hash. Changes when the package
    version or any named section changes; `noconfig` for assets that read none."""
    if not sections:
        return f"{spymaster_core.__version__}-noconfig"
    names = "+".join(sorted(set(sections)))
    return f"{spymaster_core.__version__}-{names}-{config_hash(current_config(), sections)}"


def version_metadata(*sections: str) -> dict[str, str]:
    """Metadata entries recording the config hash and package version."""
    return {
        "config_hash": config_hash(current_config(), sections) if sections else "",
        "package_version": spymaster_core.__version__,
    }
