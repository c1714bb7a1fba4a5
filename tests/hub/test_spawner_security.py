"""The spawner's part of the security review (issue 11), against the real JupyterHub and batchspawner.

condor_* here is the recording STAND-IN (tests/hub/condor-recorder), which records each command's
environment; the authenticator is a STAND-IN that accepts any name (tests/hub/lenient_auth.py). The
tunnel's port, ssh configuration and environment are proven in the pool (tests/hub/test_tunnels.py).
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from confgen.hub.environment import ALLOWED
from tests.hub.conftest import HUB_SECRETS, leaked_secrets, recorded_calls, submitted
from tests.hub.hub import Hub

NOBODY = 65534


def _wait(what: str, cond: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_no_secret_of_the_hubs_environment_reaches_any_command(recorded_hub: Hub) -> None:
    """condor_submit, batchspawner's own condor_q (upstream: the hub's whole environment) and condor_rm
    get only the allow-list, the site's additions and what the exec_prefix sets."""
    for name in HUB_SECRETS:
        assert name in recorded_hub.env  # the hub really has them
    before = len(recorded_calls(recorded_hub))
    recorded_hub.add_user("envuser")
    code, body = recorded_hub.api("POST", "/users/envuser/server", {"user_options": {}})
    assert code in (201, 202), body
    _wait("condor_q to run", lambda: any(c["verb"] == "q" for c in recorded_calls(recorded_hub)[before:]))
    code, _ = recorded_hub.api("DELETE", "/users/envuser/server")
    assert code in (202, 204)
    recorded_hub.wait_gone("envuser")
    # A stop while the spawn is still pending may run condor_rm a moment after the server is gone.
    _wait("condor_rm to run", lambda: any(c["verb"] == "rm" for c in recorded_calls(recorded_hub)[before:]))
    calls = recorded_calls(recorded_hub)[before:]
    assert {c["verb"] for c in calls} == {"submit", "q", "rm"}, [c["verb"] for c in calls]
    expected = ALLOWED | {"USER", "LOGNAME", "HOME", "CONFGEN_RECORD_DIR", "CONFGEN_USER", "PWD", "SHLVL", "_"}
    for call in calls:
        assert leaked_secrets(call["env"]) == [], f"{call['verb']} got {leaked_secrets(call['env'])}"
        assert "JUPYTERHUB_API_TOKEN" not in call["env"] and "JPY_API_TOKEN" not in call["env"]
        # PYENV_*: set by this machine's python3 shim, which runs the recorder, after the spawner's command started.
        extra = {k for k in call["env"] if k not in expected and not k.startswith(("LC_", "PYENV_", "_PYENV_"))}
        assert not extra, f"{call['verb']} got variables outside the allow-list: {sorted(extra)}"
        assert call["env"]["USER"] == "envuser" and call["env"]["CONFGEN_USER"] == "envuser"


@pytest.mark.parametrize("name", ["eve;touch confgen-pwned", "eve\n"], ids=["shell-separator", "final-newline"])
def test_a_user_name_a_shell_would_split_is_refused_before_any_command_runs(recorded_hub: Hub, name: str) -> None:
    """batchspawner runs `sudo -E -u {username} condor_submit` through a shell: JupyterHub allows ';' in names,
    and Python's `$` matched before a final newline, where the shell ends the command."""
    quoted = urllib.parse.quote(name, safe="")
    recorded_hub.add_user(quoted)
    before = len(recorded_calls(recorded_hub))
    code, body = recorded_hub.api("POST", f"/users/{quoted}/server", {"user_options": {}})
    assert code in (400, 500), body
    _wait("the refused server to be gone", lambda: recorded_hub.server(quoted) is None)
    assert recorded_calls(recorded_hub)[before:] == []
    assert "cannot be used as an account name" in recorded_hub.log_tail(20000)
    assert not (recorded_hub.workdir / "confgen-pwned").exists()


@contextmanager
def _state_dir_replaced(hub: Hub, how: str) -> Iterator[Path]:
    """The hub's state directory made unsafe in one way, restored afterwards. Yields a root-owned file
    that a symlinked state directory would lead the spawner to."""
    state = hub.workdir / "servers"
    state.mkdir(mode=0o711, exist_ok=True)
    saved = hub.workdir / "servers.saved"
    victim = hub.workdir / "victim"
    victim.mkdir(exist_ok=True)
    os.chmod(victim, 0o711)
    target = victim / "root-owned"
    target.write_text("root's\n")
    os.rename(state, saved)
    try:
        if how == "symlink":
            os.symlink(victim, state)
        else:
            state.mkdir()
            os.chmod(state, {"world-writable": 0o777, "group-writable": 0o771, "user-owned": 0o711}[how])
            if how == "user-owned":
                os.chown(state, NOBODY, NOBODY)
        yield target
    finally:
        if state.is_symlink():
            state.unlink()
        else:
            shutil.rmtree(state)
        os.rename(saved, state)


@pytest.mark.parametrize("how", ["symlink", "world-writable", "group-writable", "user-owned"])
def test_an_unsafe_state_dir_is_refused_and_nothing_is_written_or_chowned(recorded_hub: Hub, how: str) -> None:
    user = f"statedir-{how}"
    recorded_hub.add_user(user)
    before = len(submitted(recorded_hub))
    with _state_dir_replaced(recorded_hub, how) as target:
        code, body = recorded_hub.api("POST", f"/users/{user}/server", {"user_options": {}})
        assert code in (400, 500), body
        _wait("the refused server to be gone", lambda: recorded_hub.server(user) is None)
        state = recorded_hub.workdir / "servers"
        assert [p for p in os.listdir(state) if p != target.name] == [] if how != "symlink" else sorted(os.listdir(target.parent)) == [target.name]
        assert os.stat(target).st_uid == 0
    assert len(submitted(recorded_hub)) == before
    assert "state_dir" in recorded_hub.log_tail(20000)
