"""The environment of every command the spawner runs for a user: an allow-list, never the hub's own.

The hub's environment holds its secrets (CONFIGPROXY_AUTH_TOKEN, JUPYTERHUB_CRYPT_KEY, OAuth client
secrets, whatever the site's deployment adds). batchspawner runs `sudo -E -u {username} condor_q …`
through a shell with the environment it is given — for `condor_q` and `condor_rm` none, so the hub's
whole environment — and `sudo -E` hands it to the user's processes. A deny-list cannot know every
secret a deployment sets, so commands get only what HTCondor's tools read, and what the site names.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: What condor_submit, condor_q, condor_rm, condor_ssh_to_job and ssh read from the environment.
ALLOWED = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "CONDOR_CONFIG"})
#: Locale categories (LC_ALL, LC_CTYPE, …).
_LOCALE = re.compile(r"LC_[A-Z]+")
#: A command that finds no PATH still finds the HTCondor tools.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def command_environment(source: Mapping[str, str], user: str, home: str, extra: Iterable[str] = ()) -> dict[str, str]:
    """The allowed part of `source`, plus the names in `extra` (the site's own additions), with the
    user's USER, LOGNAME and HOME. Nothing else of `source` is copied, whatever its name."""
    keep = set(extra)
    bad = sorted(name for name in keep if not _NAME.fullmatch(name))
    if bad:
        raise ValueError(f"not environment variable names: {bad}")
    env = {k: v for k, v in source.items() if k in ALLOWED or k in keep or _LOCALE.fullmatch(k)}
    env.setdefault("PATH", DEFAULT_PATH)
    env["USER"] = env["LOGNAME"] = user
    env["HOME"] = home or "/"
    return env
