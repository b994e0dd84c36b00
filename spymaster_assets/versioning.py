"""Code versions: package version + hash of the config sections an asset reads (DESIGN §5)."""

from __future__ import annotations

import spymaster_core
from spymaster_core.config import config_hash, load_config

CONFIG = load_config()


def code_version(*sections: str) -> str:
    """e.g. `0.1.0-3f2a...`: changes when the package version or any named section changes."""
    return f"{spymaster_core.__version__}-{config_hash(CONFIG, sections) if sections else 'noconfig'}"


def version_metadata(*sections: str) -> dict[str, str]:
    """Metadata entries recording the config hash and package version."""
    return {
        "config_hash": config_hash(CONFIG, sections) if sections else "",
        "package_version": spymaster_core.__version__,
    }
