"""The notebook options a user may pick, checked on the server against the site's options file.

`spawner-options.json` (rendered by confgen into output/jupyterhub/) is the only source: the form is
drawn from it, and every spawn, from the form or from the REST API, is checked against it here, then
once more just before the submit description is written. Only values from its lists and ranges pass,
so nothing a user types reaches the submit description as text.

Standard library only: the hub host needs no HTCondor bindings for this.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = 1

#: The option names of every site (gpus and environment where the site offers them); a site's other
#: job attributes come after them, under their own names (confgen refuses an attribute named like these).
FIXED = ("os", "cpus", "memory_gb", "runtime_hours", "gpus", "environment")

_NUMBER = re.compile(r"[0-9]{1,9}")
_MAX_TEXT = 200


class OptionsError(ValueError):
    """User options the site does not allow; `problems` are sentences a user can act on."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class SiteOptionsError(RuntimeError):
    """The options file itself is missing or not one confgen wrote (an admin's problem, not a user's)."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """A checked set of options: every value is one the site offers."""

    os: str
    cpus: int
    memory_gb: int
    runtime_hours: int
    gpus: int
    environment: str | None
    attributes: tuple[tuple[str, str | int], ...]

    def as_user_options(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"os": self.os, "cpus": self.cpus, "memory_gb": self.memory_gb,
                                     "runtime_hours": self.runtime_hours}
        if self.gpus:  # a site without GPUs has no gpus option
            out["gpus"] = self.gpus
        if self.environment is not None:
            out["environment"] = self.environment
        out.update(dict(self.attributes))
        return out


def load(path: str | Path) -> dict[str, Any]:
    try:
        options: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SiteOptionsError(f"cannot read the spawner options {path}: {exc}") from exc
    if not isinstance(options, dict) or options.get("format") != FORMAT:
        raise SiteOptionsError(f"{path} is not a spawner options file of format {FORMAT}; render it with this confgen")
    return options


def option_names(options: Mapping[str, Any]) -> list[str]:
    offered = {"gpus": options["gpus"]["max"] > 0, "environment": bool(options.get("environment"))}
    return [n for n in FIXED if offered.get(n, True)] + [a["name"] for a in options["attributes"]]


def check(options: Mapping[str, Any], user_options: Any) -> Choice:
    """The Choice for `user_options` (missing ones take the site's defaults), or OptionsError naming every problem."""
    if user_options is None:
        user_options = {}
    if not isinstance(user_options, Mapping):
        raise OptionsError([f"options must be a mapping of option name to value, not {type(user_options).__name__}"])
    problems: list[str] = []
    known = option_names(options)
    for key in user_options:
        if key not in known:
            problems.append(f"unknown option {_show(key)}; this pool offers: {', '.join(known)}")
    values: dict[str, str | int] = {}

    def pick(name: str, spec: Mapping[str, Any], label: str) -> None:
        raw = user_options.get(name, spec["default"])
        value = _one(raw, label, spec, problems)
        if value is not None:
            values[name] = value

    pick("os", options["os"], f"container OS ({options['os']['attribute']})")
    pick("cpus", options["cpus"], "CPUs")
    pick("memory_gb", options["memory_gb"], "memory (GB)")
    pick("runtime_hours", options["runtime_hours"], f"runtime in hours ({options['runtime_hours']['attribute']})")
    pick("gpus", options["gpus"], "GPUs")
    if options.get("environment"):
        pick("environment", options["environment"], "environment")
    for attr in options["attributes"]:
        pick(attr["name"], attr, attr["name"])
    gpu_os = options["os"].get("with_gpus") or []
    if not problems and int(values["gpus"]) > 0 and values["os"] not in gpu_os:
        problems.append(f"with GPUs the container OS must be one the GPU nodes offer: {', '.join(gpu_os)}; "
                        f"{values['os']} is not (or ask for 0 GPUs)")
    if problems:
        raise OptionsError(problems)
    return Choice(os=str(values["os"]), cpus=int(values["cpus"]), memory_gb=int(values["memory_gb"]),
                  runtime_hours=int(values["runtime_hours"]), gpus=int(values["gpus"]),
                  environment=str(values["environment"]) if "environment" in values else None,
                  attributes=tuple((a["name"], values[a["name"]]) for a in options["attributes"]))


def _one(raw: Any, label: str, spec: Mapping[str, Any], problems: list[str]) -> str | int | None:
    if isinstance(raw, list) and len(raw) == 1:  # form data arrives as lists
        raw = raw[0]
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        problems.append(f"{label}: expected one value, got {_show(raw)}")
        return None
    if isinstance(raw, str) and (text_problem := _text_problem(raw)):
        problems.append(f"{label}: {text_problem}")
        return None
    if "choices" in spec:
        if raw not in spec["choices"]:
            problems.append(f"{label}: {_show(raw)} is not offered; choose one of: {', '.join(spec['choices'])}")
            return None
        return str(raw)
    if isinstance(raw, str):
        if not _NUMBER.fullmatch(raw):
            problems.append(f"{label}: {_show(raw)} is not a whole number from {spec['min']} to {spec['max']}")
            return None
        raw = int(raw)
    if not spec["min"] <= raw <= spec["max"]:
        problems.append(f"{label}: {raw} is outside {spec['min']} to {spec['max']}, the most this pool allows")
        return None
    return int(raw)


def _text_problem(text: str) -> str | None:
    if len(text) > _MAX_TEXT:
        return f"the value is {len(text)} characters long; no option of this pool is longer than {_MAX_TEXT}"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        return f"{_show(text)} contains a line break or another control character, which no option allows"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def corners(options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Option sets at the edges of what the site allows: every OS with every number at its minimum,
    and at its maximum (GPUs only where the OS runs on GPU nodes), then every value of every list."""
    numbers = ["cpus", "memory_gb", "runtime_hours"] + (["gpus"] if options["gpus"]["max"] > 0 else [])
    out: list[dict[str, Any]] = []
    for os_name in options["os"]["choices"]:
        for end in ("min", "max"):
            chosen: dict[str, Any] = {"os": os_name}
            for name in numbers:
                chosen[name] = options[name][end]
            for attr in options["attributes"]:
                if attr["type"] == "integer":
                    chosen[attr["name"]] = attr[end]
            if chosen.get("gpus") and os_name not in (options["os"].get("with_gpus") or []):
                chosen["gpus"] = 0
            out.append(chosen)
    lists = ([("environment", options["environment"])] if options.get("environment") else [])
    lists += [(a["name"], a) for a in options["attributes"] if a["type"] == "string"]
    for name, spec in lists:
        out += [{name: value} for value in spec["choices"]]
    return out


def from_form(options: Mapping[str, Any], form: Mapping[str, list[Any]]) -> dict[str, Any]:
    """User options from a posted form (JupyterHub passes each field as a list of strings).

    A field sent twice, or a file, is refused here; values are checked by `check`. JupyterHub's
    `_xsrf` field is not an option.
    """
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, values in form.items():
        if key == "_xsrf":  # JupyterHub's own form token, checked by JupyterHub
            continue
        if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], str):
            problems.append(f"{_show(key)}: expected exactly one value in the form")
            continue
        out[key] = values[0]
    if problems:
        raise OptionsError(problems)
    return out


def form_html(options: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> str:
    """The options form: a select per list, a number field per range; the site default preselected."""
    import html  # the hub's form only: `confgen check` imports this module and never needs it
    prev = dict(previous or {})
    rows: list[str] = []

    def select(name: str, label: str, spec: Mapping[str, Any], note: str = "") -> None:
        chosen = prev.get(name, spec["default"])
        opts = "".join(f'<option value="{html.escape(str(v))}"{" selected" if v == chosen else ""}>{html.escape(str(v))}</option>'
                       for v in spec["choices"])
        rows.append(f'<div class="form-group"><label for="confgen-{html.escape(name)}">{html.escape(label)}</label>'
                    f'<select class="form-control" id="confgen-{html.escape(name)}" name="{html.escape(name)}">{opts}</select>'
                    f'{_note(note)}</div>')

    def number(name: str, label: str, spec: Mapping[str, Any], note: str = "") -> None:
        value = prev.get(name, spec["default"])
        rows.append(f'<div class="form-group"><label for="confgen-{html.escape(name)}">{html.escape(label)}</label>'
                    f'<input class="form-control" type="number" id="confgen-{html.escape(name)}" name="{html.escape(name)}" '
                    f'min="{int(spec["min"])}" max="{int(spec["max"])}" step="1" value="{html.escape(str(value))}" required>'
                    f'{_note(note)}</div>')

    os_spec = options["os"]
    select("os", "Container OS", os_spec, f"The notebook runs in this OS ({os_spec['attribute']}).")
    number("cpus", "CPUs", options["cpus"])
    number("memory_gb", "Memory (GB)", options["memory_gb"])
    number("runtime_hours", "Runtime (hours)", options["runtime_hours"], "The notebook is stopped after this time.")
    if options["gpus"]["max"] > 0:
        number("gpus", "GPUs", options["gpus"], f"With GPUs, the OS must be one of: {', '.join(os_spec.get('with_gpus') or [])}.")
    if options.get("environment"):
        select("environment", "Environment", options["environment"])
    for attr in options["attributes"]:
        if attr["type"] == "string":
            select(attr["name"], attr["name"], attr)
        else:
            number(attr["name"], attr["name"], attr)
    return "\n".join(rows) + "\n"


def _note(text: str) -> str:
    import html

    return f'<small class="form-text text-muted">{html.escape(text)}</small>' if text else ""
