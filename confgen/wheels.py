"""Which HTCondor wheel runs the config parser's child: the site's release series when it is installed.

`site.htcondor_version` names the oldest HTCondor release of the pool (MAJOR.MINOR, e.g. "24.0"). The
venv holds one htcondor wheel (the pinned one, pyproject.toml); two versions of one package cannot live
in one environment, and an extra (`confgen-htcondor[lts-24]` = `htcondor==24.0.*`) cannot be installed
beside the pin: pip refuses the conflicting requirements. So the wheel of another series is installed
into a directory of its own (`pip install --no-deps --target DIR 'htcondor==24.0.*'`, a few seconds, the
wheel has no dependencies) and the parser's child process runs with that directory first on its
PYTHONPATH. Where confgen looks, first match wins:

1. `CONFGEN_HTCONDOR_<MAJOR>_<MINOR>` (e.g. CONFGEN_HTCONDOR_24_0=/opt/htcondor-24.0): a `--target`
   directory;
2. `$XDG_CACHE_HOME/confgen/htcondor/<MAJOR>.<MINOR>` (default ~/.cache/...), where
   `confgen install-htcondor` puts it.

A site of the pinned wheel's own series uses the pinned wheel. Only the parser runs with the series'
wheel; the ClassAd evaluation of the checks stays in confgen's process (the pinned classad2).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

Series = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Wheel:
    """The htcondor wheel that validates a site: `path` None is the one installed in this environment."""

    series: Series
    version: str
    path: Path | None = None

    def describe(self) -> str:
        return f"HTCondor {self.version} ({'the wheel in ' + str(self.path) if self.path else 'the wheel confgen depends on'})"


_CHILD_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("confgen_htcondor_wheel", default=None)


def pinned() -> Wheel:
    """The wheel installed with confgen (classad2 says which: importing importlib.metadata to ask cost
    10 ms of every check)."""
    import classad2  # the checks import it anyway

    version = classad2.version()
    return Wheel(series_of(version), version)


def series_of(version: str) -> Series:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def label(series: Series) -> str:
    return f"{series[0]}.{series[1]}"


def env_var(series: Series) -> str:
    return f"CONFGEN_HTCONDOR_{series[0]}_{series[1]}"


def cache_dir(series: Series) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "confgen" / "htcondor" / label(series)


def installed_version(directory: Path) -> str | None:
    """The htcondor version a `pip install --target` directory holds, if it holds htcondor2."""
    if not (directory / "htcondor2" / "__init__.py").is_file():
        return None
    infos = sorted(directory.glob("htcondor-*.dist-info"))
    return infos[-1].name.removeprefix("htcondor-").removesuffix(".dist-info") if infos else None


def candidates(series: Series) -> list[tuple[str, Path]]:
    """(where it came from, directory) in the order confgen looks."""
    found = []
    if os.environ.get(env_var(series)):
        found.append((env_var(series), Path(os.environ[env_var(series)])))
    found.append(("the cache", cache_dir(series)))
    return found


def find(series: Series) -> Wheel | None:
    """The installed wheel of `series` (the pinned one for its own series), or None."""
    own = pinned()
    if own.series == series:
        return own
    return installed(series)


def installed(series: Series) -> Wheel | None:
    """The first wheel of `series` where confgen looks (candidates()), or None."""
    for _, directory in candidates(series):
        version = installed_version(directory)
        if version is not None and series_of(version) == series:
            return Wheel(series, version, directory)
    return None


def install_argv(series: Series, target: Path) -> list[str]:
    """The pip command that puts the newest wheel of `series` into `target` (no dependencies: it has none)."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade", "--target", str(target), f"htcondor=={label(series)}.*"]


@contextlib.contextmanager
def parser_uses(wheel: Wheel | None) -> Iterator[None]:
    """Within this block the parser's child imports htcondor2 from `wheel` (None or the pinned: this environment's)."""
    token = _CHILD_PATH.set(wheel.path if wheel else None)
    try:
        yield
    finally:
        _CHILD_PATH.reset(token)


def child_env(env: dict[str, str]) -> dict[str, str]:
    """The parser child's environment: the chosen wheel's directory first on PYTHONPATH."""
    return with_wheel(env, _CHILD_PATH.get())


def with_wheel(env: dict[str, str], directory: Path | None) -> dict[str, str]:
    """`env` with `directory` (a wheel's, or None: this environment's) first on PYTHONPATH."""
    if directory is None:
        return env
    rest = env.get("PYTHONPATH")
    return {**env, "PYTHONPATH": str(directory) + (os.pathsep + rest if rest else "")}


#: `  htcondor_version: "24.0"` as site.yaml writes it (guess() reads the file as text).
_VERSION_LINE = re.compile(r"""^[ \t]+htcondor_version:[ \t]*["']?([0-9]{1,3})\.([0-9]{1,3})["']?[ \t]*(#.*)?$""", re.MULTILINE)


def guess(site_file: str | os.PathLike[str]) -> Path | None:
    """The directory of the installed wheel of the series that `site_file` seems to name, read as text
    before the site is loaded (its `htcondor_version:` line); None for this environment's wheel. Only for
    starting the parser's child early: the loaded site decides, and a wrong guess costs a second child."""
    try:
        if not stat.S_ISREG(os.stat(site_file).st_mode):  # a pipe (`check <(...)`) is read once, by the loader
            return None
        with open(site_file, "rb") as f:
            text = f.read(1 << 16).decode("utf-8", "replace")
    except OSError:
        return None
    m = _VERSION_LINE.search(text)
    if m is None:
        return None
    wheel = installed((int(m.group(1)), int(m.group(2))))
    return wheel.path if wheel is not None else None


def install(series: Series, target: Path) -> tuple[bool, str]:
    """Install the newest wheel of `series` into `target` with this environment's pip (the machine's own
    pip configuration chooses the index). (done, what pip printed when it failed)."""
    proc = subprocess.run(install_argv(series, target), capture_output=True, text=True, check=False)
    version = installed_version(target)
    if proc.returncode == 0 and version is not None and series_of(version) == series:
        return True, ""
    return False, (proc.stderr or proc.stdout).strip()[-2000:]
