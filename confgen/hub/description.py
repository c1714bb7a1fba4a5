"""The submit description of a notebook job, and the script it runs, from a checked Choice.

The description carries only what the site's options allow (every value comes from a Choice, and
is checked again here before a line is written) plus paths the spawner made. Secrets never enter
it: the hub's API token and the rest of the notebook's environment travel in the job's executable,
a private file that HTCondor's file transfer copies into the job's scratch directory, so they are in
no job ad (`condor_q -long` of any user cannot show them).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from confgen.hub.options import Choice, OptionsError, check

#: Marks notebook jobs in the queue (condor_q -constraint 'JupyterHubNotebook =?= True').
MARKER = "JupyterHubNotebook"
ENVIRONMENT_ATTRIBUTE = "JupyterEnvironment"
ENVIRONMENT_VARIABLE = "CONFGEN_JUPYTER_ENVIRONMENT"

_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]*")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def job_attributes(options: Mapping[str, Any], choice: Choice) -> dict[str, str | int | bool]:
    """The attributes a notebook job gets in its ad, beside the resource requests."""
    attrs: dict[str, str | int | bool] = {
        "InteractiveJob": True,
        MARKER: True,
        options["os"]["attribute"]: choice.os,
        options["runtime_hours"]["attribute"]: choice.runtime_hours * int(options["runtime_hours"].get("per_hour", 1)),
    }
    if choice.environment is not None:
        attrs[ENVIRONMENT_ATTRIBUTE] = choice.environment
    attrs.update(dict(choice.attributes))
    return attrs


def requests(choice: Choice) -> dict[str, int]:
    """request_* commands: memory in MB, as the job ad's RequestMemory."""
    out = {"request_cpus": choice.cpus, "request_memory": choice.memory_gb * 1024}
    if choice.gpus > 0:
        out["request_gpus"] = choice.gpus
    return out


def submit_description(options: Mapping[str, Any], choice: Choice, *, executable: str, initialdir: str) -> str:
    """The description condor_submit reads on stdin. Refuses (OptionsError) a Choice the site does not allow.

    `initialdir` is the server's private directory: whatever the job leaves behind comes back there.
    """
    again = check(options, choice.as_user_options())  # once more, just before writing
    if again != choice:
        raise OptionsError(["the options changed while they were being checked"])
    for path in (executable, initialdir):
        if not _SAFE_PATH.fullmatch(path):
            raise ValueError(f"unsafe path {path!r} for a submit description")
    lines = [
        "universe = vanilla",
        f"executable = {executable}",
        f"initialdir = {initialdir}",
        "transfer_executable = true",
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        "getenv = false",
        "batch_name = jupyterhub",
    ]
    lines += [f"{command} = {value}" for command, value in requests(choice).items()]
    for name, value in job_attributes(options, choice).items():
        lines.append(f"MY.{_attribute(name)} = {_classad_literal(value)}")
    lines.append("queue")
    return "\n".join(lines) + "\n"


def _attribute(name: str) -> str:
    if not _ATTRIBUTE.fullmatch(name):
        raise ValueError(f"unsafe attribute name {name!r}")
    return name


def _classad_literal(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # Values are names from the site's lists (checked again above); refuse anything a string could escape with.
    if not re.fullmatch(r"[A-Za-z0-9_.+-]*", value):
        raise ValueError(f"unsafe attribute value {value!r}")
    return f'"{value}"'


def notebook_script(environment: Mapping[str, str], command: list[str]) -> str:
    """The job's executable: export the notebook's environment (the API token among it), then exec the server.

    Runs with /bin/sh inside the job's container; every value is quoted for the shell.
    """
    lines = ["#!/bin/sh",
             "# A JupyterHub notebook job (confgen.hub): the hub's environment for the notebook travels in this",
             "# private file, not in the job ad. Written by the spawner; removed on the hub once the job runs.",
             "set -e"]
    for name in sorted(environment):
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"unsafe environment variable name {name!r}")
        lines.append(f"export {name}={shlex.quote(environment[name])}")
    lines.append("exec " + " ".join(shlex.quote(part) for part in command))
    return "\n".join(lines) + "\n"
