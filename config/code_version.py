"""A fingerprint of the application's code: its Python packages, its migrations, the
package versions it is installed with and the database set-up (its roles and grants). What
code made goes with it: a test template is named by it, and a cached report counts only for
the code that computed it."""

import functools
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "registry", "gis_layers", "migrations")
FILES = (
    "pyproject.toml",
    "constraints.txt",
    "scripts/setup_database.sh",
    "scripts/app_role_grants.sql",
)


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    paths = sorted(path for package in PACKAGES for path in (root / package).rglob("*.py"))
    for path in [*paths, *(root / name for name in FILES)]:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def running_code() -> str:
    """The fingerprint of the code this process runs, read once."""
    return fingerprint()
