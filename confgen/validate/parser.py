"""The real HTCondor config parser, run over every rendered role directory in a child process."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import selectors
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from confgen import parser_process
from confgen.diagnostics import Diagnostic
from confgen.render import Fragment, htcondor_roles
from confgen.site.bounds import MAX_RENDERED
from confgen.validate import newest_images
from confgen.validate._child import ALL_KNOBS
from confgen.wheels import child_env

#: Seconds each step of the parser's child may take: reading one role, or expanding one knob. A
#: macro cycle makes the expansion of a knob that is part of it hang.
ROLE_TIMEOUT = 10.0
#: Bytes of configuration in one role given to HTCondor's parser. site/bounds.py refuses a site
#: that would render more, so this holds only for fragments that did not come from a site.
MAX_ROLE_BYTES = MAX_RENDERED
#: Up to this many bytes a role expands any knob far within ROLE_TIMEOUT: a step that takes longer
#: is a macro cycle. (The largest role the bounds allow expands its longest knob in about 3 s.)
CYCLE_CERTAIN_BYTES = 1024 * 1024

PROBE_PREFIX = "CONFGEN_PROBE_"  # the knobs that read back each knob's final text
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*(@?=)")
_ERROR_LINE = re.compile(r"Configuration Error Line (\d+) while reading config source (\S+)")


@dataclasses.dataclass
class RoleConfig:
    """What HTCondor's parser made of one role: the final text of every knob confgen sets."""

    role: str
    knobs: dict[str, str | None]
    #: knob (upper case) -> (fragment name, line) of its last definition in confgen's files
    origin: dict[str, tuple[str, int]]

    def get(self, knob: str) -> str | None:
        return self.knobs.get(knob.upper())


def assignments(text: str) -> Iterable[tuple[str, int]]:
    """(knob, line) of every assignment in a fragment, skipping the body of `@=` blocks."""
    block_end: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if block_end is not None:
            if line.strip() == block_end:
                block_end = None
            continue
        m = _ASSIGN.match(line)
        if m:
            yield m.group(1), number
            if m.group(2) == "@=":
                block_end = "@" + line.split("@=", 1)[1].strip()


def load_roles(fragments: list[Fragment], outdir_label: str = "output", timeout: float = ROLE_TIMEOUT,
               also_read: Iterable[str] = (), subsystems: dict[str, tuple[str, ...]] | None = None) -> tuple[dict[str, RoleConfig], list[Diagnostic]]:
    """Load each role directory HTCondor reads under a minimal root config; report syntax errors and cycles.
    Every knob the fragments assign is read back, and the knobs named in `also_read` too.

    With `subsystems` (role -> daemon subsystems), only those roles are loaded, once as each daemon reads
    them (its `SUBSYS.`-prefixed knobs applied); the result is keyed `<role>@<SUBSYS>`."""
    with start(fragments, outdir_label, timeout, also_read, subsystems=subsystems) as parsing:
        return parsing.result()


def knob_names(fragments: list[Fragment], label: str, timeout: float = ROLE_TIMEOUT) -> dict[str, set[str]]:
    """Role -> the upper-case name of every knob HTCondor has after reading it (its defaults, and
    what `use` lines set, included)."""
    with start(fragments, label, timeout, list_all=True) as parsing:
        configs, problems = parsing.result()
    if problems:
        raise ValueError("; ".join(p.message for p in problems))
    return {role: {k.upper() for k in json.loads(c.knobs.pop(ALL_KNOBS) or "[]") if not k.upper().startswith(PROBE_PREFIX)}
            for role, c in configs.items()}


class Parsing:
    """Roles handed to HTCondor's parser: the child reads them while this process goes on (with start());
    result() waits for what the parser made of them."""

    def __init__(self, fragments: list[Fragment], label: str, timeout: float, also_read: set[str], list_all: bool,
                 subsystems: dict[str, tuple[str, ...]] | None) -> None:
        self.label, self.timeout = label, timeout
        by_role: dict[str, list[Fragment]] = {}
        for frag in htcondor_roles(fragments):
            if subsystems is not None and frag.role not in subsystems:
                continue
            by_role.setdefault(frag.role, []).append(frag)
        self.problems: list[Diagnostic] = []
        self.sizes = {role: sum(len(f.text.encode()) for f in frags) for role, frags in by_role.items()}
        for role, size in sorted(self.sizes.items()):
            if size > MAX_ROLE_BYTES:  # checked before any parser runs: it would take minutes and gigabytes
                self.problems.append(Diagnostic(f"{label}/{role}", 0, 0, "",
                                                f"this role is {size:,} bytes of configuration; HTCondor's config parser is given at most "
                                                f"{MAX_ROLE_BYTES:,}: render fewer OS images or binds into it", "htcondor"))
                del by_role[role]
        self._tmp = tempfile.TemporaryDirectory(prefix="confgen-check-", dir=staging_dir())
        self.tmp = Path(self._tmp.name)
        try:
            self.jobs, self.origins = _stage(self.tmp, by_role, also_read, subsystems)
            for job in self.jobs:
                job["list_all"] = list_all
            self._child: subprocess.Popen[bytes] | None = _feed(self.jobs) if self.jobs else None
        except BaseException:  # disk full, no file descriptors: nothing staged is left behind
            self._tmp.cleanup()
            raise

    def result(self) -> tuple[dict[str, RoleConfig], list[Diagnostic]]:
        results, run_problems = _run(self.jobs, self.timeout, self.tmp, self.label, self.sizes, self._child)
        self._child = None
        configs = {role: RoleConfig(role, knobs, self.origins[role]) for role, knobs in results.items()}
        return configs, self.problems + run_problems

    def close(self) -> None:
        """End a child whose result was not asked for, and remove the staged roles."""
        if self._child is not None:
            parser_process.discard(self._child)
            self._child = None
        self._tmp.cleanup()


@contextlib.contextmanager
def start(fragments: list[Fragment], label: str = "output", timeout: float = ROLE_TIMEOUT, also_read: Iterable[str] = (),
          list_all: bool = False, subsystems: dict[str, tuple[str, ...]] | None = None) -> Iterator[Parsing]:
    """HTCondor's parser starts reading the roles now, in its child; within the block this process does other
    work (imports the checks) until it asks for parsing.result()."""
    parsing = Parsing(fragments, label, timeout, {k.upper() for k in also_read}, list_all, subsystems)
    try:
        yield parsing
    finally:
        parsing.close()


def staging_dir() -> str | None:
    """Where the role files for the parser go: $TMPDIR when set, else a memory-backed directory (the
    user's runtime directory, or /dev/shm), else the system's temporary directory. They live for a second
    and only the child reads them; on a disk, creating and removing them cost more than the parser's work
    (135 ms against 4 ms in /dev/shm, measured on the benchmark machine)."""
    if os.environ.get("TMPDIR"):
        return None  # tempfile takes it
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def _stage(tmp: Path, by_role: dict[str, list[Fragment]], also_read: set[str],
           subsystems: dict[str, tuple[str, ...]] | None = None) -> tuple[list[dict[str, object]], dict[str, dict[str, tuple[str, int]]]]:
    jobs: list[dict[str, object]] = []
    origins: dict[str, dict[str, tuple[str, int]]] = {}
    for role in sorted(by_role):
        role_dir, probe_dir = tmp / "roles" / role, tmp / "probes" / role
        role_dir.mkdir(parents=True)
        probe_dir.mkdir(parents=True)
        origin: dict[str, tuple[str, int]] = {}
        for frag in by_role[role]:
            target = role_dir / frag.name
            if "/" in frag.name:  # a map beside the config (maps/kerberos.map)
                target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, frag.text)
            if frag.is_config:
                for knob, line in assignments(frag.text):
                    origin[knob.upper()] = (frag.name, line)
        probes = {knob: PROBE_PREFIX + knob.replace(".", "__") for knob in sorted(set(origin) | also_read)}
        # Probes read each knob's final text as a plain string: typed knobs (SINGULARITY_JOB) would
        # otherwise come back converted, and an expression would read as False.
        _write(probe_dir / "probe", "".join(f"{p} = $({k})\n" for k, p in probes.items()))
        root = tmp / f"root-{role}"
        # Images resolved on the node: their include caches hold a sample answer (validate/newest_images.py),
        # one directory for every role, so a host kind reads what its members read.
        local = newest_images.stage([f.text for f in by_role[role] if f.is_config], tmp / "image-cache")
        _write(root, f"{local}LOCAL_CONFIG_DIR = {role_dir}, {probe_dir}\n")
        if subsystems is None:
            jobs.append({"role": role, "root": str(root), "probes": probes})
            origins[role] = origin
        for subsys in (subsystems or {}).get(role, ()):
            jobs.append({"role": f"{role}@{subsys}", "root": str(root), "probes": probes, "subsystem": subsys})
            origins[f"{role}@{subsys}"] = origin
    return jobs, origins


def _write(path: Path, text: str) -> None:
    """Write a file for the parser; a failure names the file (a failed write() alone does not: disk full)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _run(jobs: list[dict[str, object]], timeout: float, tmp: Path, label: str, sizes: dict[str, int],
         child: subprocess.Popen[bytes] | None = None) -> tuple[dict[str, dict[str, str | None]], list[Diagnostic]]:
    """Read what the child (`child`, already fed every job, or a new one) made of the jobs; after a failure,
    a new child takes the roles not yet read."""
    results: dict[str, dict[str, str | None]] = {}
    problems: list[Diagnostic] = []
    pending = list(jobs)
    while pending:
        proc, child = child or _feed(pending), None
        done, failure, failed_role = _one_child(proc, timeout, tmp, label, sizes)
        results.update(done)
        if failure is not None:
            problems.append(failure)
        finished = set(done) | {failed_role}
        remaining = [j for j in pending if j["role"] not in finished]
        if len(remaining) == len(pending):  # the child died before loading anything: do not loop
            problems.append(Diagnostic(label, 0, 0, "", "HTCondor's config parser could not be started", "internal"))
            break
        pending = remaining
    return results, problems


def _feed(jobs: list[dict[str, object]]) -> subprocess.Popen[bytes]:
    """A parser child (with the site's series' wheel first, if chosen) given every job; it reads them all
    before it writes anything, so neither side can wait on the other's full pipe."""
    proc = parser_process.spawn(child_env(parser_process.child_env()))
    assert proc.stdin
    try:
        proc.stdin.write(json.dumps(jobs).encode())
        proc.stdin.close()
    except BrokenPipeError:  # the child ended before reading its jobs: its exit status and stderr say why
        pass
    return proc


def _one_child(proc: subprocess.Popen[bytes], timeout: float, tmp: Path, label: str, sizes: dict[str, int]) -> tuple[dict[str, dict[str, str | None]], Diagnostic | None, str | None]:
    assert proc.stdout and proc.stderr
    done: dict[str, dict[str, str | None]] = {}
    current: str | None = None
    step: str | None = None  # None: reading the role; else the knob being expanded
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                proc.kill()
                proc.wait()
                return done, _timed_out(current, step, sizes.get(current or "", 0), timeout, label), current
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw_line in lines:
                kind, _, rest = raw_line.decode().partition(" ")
                if kind == "ROLE":
                    current, step, deadline = rest, None, time.monotonic() + timeout
                elif kind in ("LOADED", "PROBE"):  # each step of a role gets its own time
                    step, deadline = rest or None, time.monotonic() + timeout
                elif kind == "KNOBS" and current is not None:
                    done[current] = json.loads(rest)
                    current = None
        proc.wait()
        stderr = proc.stderr.read().decode(errors="replace")
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0:
        return done, _syntax_error(current, stderr, tmp, label), current
    return done, None, None


def _timed_out(role: str | None, knob: str | None, size: int, timeout: float, label: str) -> Diagnostic:
    """What a step that did not finish in time means: reading the role, or expanding one knob."""
    if role is None:
        return Diagnostic(label, 0, 0, "", f"HTCondor's config parser did not start within {timeout:g} s", "htcondor")
    where = f"{label}/{role}"
    if knob is None:
        return Diagnostic(where, 0, 0, "",
                          f"HTCondor's config parser did not finish reading this role within {timeout:g} s ({size:,} bytes of "
                          "configuration); render fewer OS images or binds into it, or check on a less busy machine", "htcondor")
    if size <= CYCLE_CERTAIN_BYTES:
        return Diagnostic(where, 0, 0, knob,
                          f"HTCondor's config parser did not finish expanding {knob} within {timeout:g} s: a macro cycle "
                          "(a knob that refers to itself through others)", "htcondor")
    return Diagnostic(where, 0, 0, knob,
                      f"HTCondor's config parser did not finish expanding {knob} within {timeout:g} s; the role has {size:,} bytes "
                      "of configuration: a macro cycle (a knob that refers to itself through others), or more than the parser "
                      "expands in that time (render fewer OS images into it)", "htcondor")


def _syntax_error(role: str | None, stderr: str, tmp: Path, label: str) -> Diagnostic:
    m = _ERROR_LINE.search(stderr)
    detail = " ".join(stderr.replace(str(tmp / "roles"), label).split())[:400] or "the parser exited without a message"
    if m:
        source = Path(m.group(2))
        try:
            rel = source.relative_to(tmp / "roles")
            return Diagnostic(f"{label}/{rel}", int(m.group(1)), 1, "", f"HTCondor's config parser refused this fragment: {detail}", "htcondor")
        except ValueError:
            pass
    return Diagnostic(f"{label}/{role}", 0, 0, "", f"HTCondor's config parser refused this role: {detail}", "htcondor")
