"""`confgen init`: a first site.yaml that passes `confgen check`, and the schema beside it so an
editor validates the file wherever it is kept."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from confgen.errors import OutputError
from confgen.site.schema import schema_text

SCHEMA_NAME = "site.schema.json"
_REPO_EXAMPLE = Path(__file__).resolve().parents[2] / "site.yaml"
NEXT_STEPS = """next: `confgen check {site}`, then add what your pool has (each section is described in the README and in the example, `confgen init --from-example`):
  security.kerberos      Kerberos for users and daemons (methods: [KERBEROS, FS])
  job_attributes         site attributes with defaults and limits checked at submit (a runtime limit)
  threads_env            thread variables set to the job's CPU request
  health, reboots        the node health script, reboot draining
  more node_classes      an interactive-only class, GPUs
  jupyterhub             notebooks as interactive jobs"""


def site_text(from_example: bool) -> str:
    if not from_example:
        return (resources.files("confgen.scaffold") / "minimal-site.yaml").read_text(encoding="utf-8")
    packaged = resources.files("confgen.scaffold") / "example-site.yaml"
    text = packaged.read_text(encoding="utf-8") if packaged.is_file() else _REPO_EXAMPLE.read_text(encoding="utf-8")
    return text.replace("$schema=schemas/site.schema.json", f"$schema={SCHEMA_NAME}", 1)


def write_new(path: Path, text: str) -> None:
    """Create `path`; an existing file is never replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise OutputError(f"{path} exists; confgen init does not replace it: remove it, or name another path") from None
    except OSError as exc:
        raise OutputError(f"cannot create {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def init(site: Path, from_example: bool) -> list[Path]:
    """Write site.yaml and, beside it, the schema its first line names. Returns what was written."""
    schema = site.parent / SCHEMA_NAME
    for path in (site, schema):
        if path.exists() or path.is_symlink():
            raise OutputError(f"{path} exists; confgen init does not replace it: remove it, or name another path")
    write_new(site, site_text(from_example))
    write_new(schema, schema_text())
    return [site, schema]
