"""Today's configuration of a host, as HTCondor itself reports it: `condor_config_val -dump
-expanded -verbose` gives, for every knob, its expanded value, where it was set (a file and line,
`<Default>` or `<Detected>`), its raw text and HTCondor's default."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

from confgen.errors import OutputError

DUMP_COMMAND = ("condor_config_val", "-dump", "-expanded", "-verbose")
_KNOB = re.compile(r"^([A-Za-z_][A-Za-z0-9_.:]*) =(?: (.*))?$")
_META = re.compile(r"^ # (at|raw|default): ?(.*)$")


@dataclasses.dataclass
class Knob:
    name: str
    value: str
    at: str = ""  # a file and line, `<Default>` or `<Detected>`
    raw: str | None = None
    default: str | None = None

    @property
    def source_file(self) -> str | None:
        """The file that set it, or None for HTCondor's default or a detected value."""
        return None if self.at.startswith("<") or not self.at else self.at.split(",", 1)[0]


@dataclasses.dataclass
class Dump:
    host: str
    knobs: dict[str, Knob]  # upper-case name -> knob


def parse_dump(text: str) -> Dump:
    """Parse the output of DUMP_COMMAND. A line that is neither a knob nor a field continues the last one."""
    host = ""
    knobs: dict[str, Knob] = {}
    last: Knob | None = None
    field = "value"
    for line in text.split("\n"):
        if line.startswith("# Configuration from machine:"):
            host = line.split(":", 1)[1].strip()
            continue
        if (m := _META.match(line)) and last is not None:
            field = m.group(1)
            setattr(last, field, m.group(2))
        elif m := _KNOB.match(line):
            last, field = Knob(m.group(1), m.group(2) or ""), "value"
            knobs[last.name.upper()] = last
        elif last is not None and line:
            setattr(last, field, (getattr(last, field) or "") + "\n" + line)
    return Dump(host, knobs)


def read_live_dump() -> str:
    """Run DUMP_COMMAND on this host (CONDOR_CONFIG as the environment says)."""
    if shutil.which(DUMP_COMMAND[0]) is None:
        raise OutputError("condor_config_val is not on PATH: run this on an HTCondor host, or save the host's configuration there "
                          f"with `{' '.join(DUMP_COMMAND)} > host.dump` and pass --dump host.dump")
    proc = subprocess.run(DUMP_COMMAND, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or "# Configuration from machine:" not in proc.stdout:
        raise OutputError(f"{' '.join(DUMP_COMMAND)} failed (exit {proc.returncode}): {proc.stderr.strip()[:400]}")
    return proc.stdout
