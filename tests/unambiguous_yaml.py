"""yaml.safe_dump for test sites, quoting every string a YAML 1.2 reader (or the YAML 1.1 spec) would
read as something else: PyYAML writes 'y', '0o17' and '1e3' plain, which confgen refuses as ambiguous."""

from __future__ import annotations

from typing import Any

import yaml

from confgen.site import scalars


class UnambiguousDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if any(ch in data for ch in "\x85\u2028\u2029"):
        # YAML 1.1 line breaks: PyYAML writes them raw inside a single-quoted or plain scalar (where confgen
        # refuses them, as a YAML 1.2 reader would not break the line); a double-quoted scalar escapes them
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    plain_is_string = scalars.ambiguity(data, data) is None and scalars.core_reading(data) == data
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=None if plain_is_string else "'")


UnambiguousDumper.add_representer(str, _represent_str)


def dump(data: Any, **options: Any) -> str:
    """The YAML text of `data`, every scalar meaning the same to YAML 1.1 and YAML 1.2 readers."""
    return yaml.dump(data, Dumper=UnambiguousDumper, **options)  # type: ignore[no-any-return]
