"""A real JupyterHub (the installed jupyterhub and batchspawner packages) in a subprocess, configured
by the rendered output/jupyterhub/confgen_config.py plus the test's own lines, and clients for it:
the REST API with a service token, and a browser session (log in, fetch and post the spawn form).

Test-only parts, named as such: the proxy (tests/hub/standin_proxy.py) and, where no pool runs, the
condor_* commands (tests/hub/condor-recorder).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from confgen.hub.tunnel import free_port

REPO = Path(__file__).resolve().parents[2]
RECORDER = Path(__file__).with_name("condor-recorder")


class Hub:
    """One JupyterHub process. `extra` is appended to the config after the rendered snippet."""

    def __init__(self, workdir: Path, snippet: Path, options_file: Path, extra: str = "", env: dict[str, str] | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "hub.log"
        (workdir / "jupyterhub_config.py").write_text(f"""# NOT SHIPPED: the test hub's config.
c = get_config()  # noqa: F821
load_subconfig({str(snippet)!r})  # noqa: F821  the rendered snippet, as a hub host loads it
c.SiteCondorSpawner.site_options_file = {str(options_file)!r}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {free_port()}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {self.port}
c.JupyterHub.proxy_class = "tests.hub.standin_proxy.StandinProxy"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.db_url = "sqlite:///{workdir}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.pid_file = "{workdir}/hub.pid"
c.JupyterHub.services = [{{"name": "confgen-test", "api_token": {self.token!r}}}]
c.JupyterHub.load_roles = [{{"name": "confgen-test", "scopes": ["admin:users", "admin:servers", "admin:server_state", "read:users"], "services": ["confgen-test"]}}]
c.SiteCondorSpawner.state_dir = "{workdir}/servers"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
{extra}
""")

    # --- process ----------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(self.workdir / "jupyterhub_config.py")],
                                         cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"JupyterHub exited {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.api("GET", "/")[0] == 200:
                    return
            time.sleep(0.3)
        raise AssertionError(f"JupyterHub did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    # --- REST -------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/hub/api{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def add_user(self, name: str) -> None:
        code, _ = self.api("POST", f"/users/{name}")
        assert code in (201, 409), code

    def server(self, name: str) -> dict[str, Any] | None:
        code, user = self.api("GET", f"/users/{name}")
        assert code == 200, user
        servers: dict[str, Any] = user.get("servers", {})
        return servers.get("")

    def wait_ready(self, name: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.server(name)
            if server and server.get("ready"):
                return server
            if server is None and time.monotonic() > deadline - timeout + 5:
                raise AssertionError(f"the server of {name} is gone:\n{self.log_tail()}")
            time.sleep(0.5)
        raise AssertionError(f"the server of {name} was not ready within {timeout} s:\n{self.log_tail()}")

    def wait_gone(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server(name) is None:
                return
            time.sleep(0.3)
        raise AssertionError(f"the server of {name} did not stop within {timeout} s")

    # --- browser ----------------------------------------------------------------------------------
    def browser(self, name: str) -> Browser:
        return Browser(self, name)


class Browser:
    """A logged-in browser session of one user (DummyAuthenticator: any password)."""

    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.get("/hub/login")
        code, _ = self.post("/hub/login", {"username": name, "password": "any"})
        assert code == 302, f"login of {name} answered {code}"

    def xsrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "_xsrf")

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.hub.url + path))

    def post(self, path: str, fields: dict[str, str] | list[tuple[str, str]]) -> tuple[int, str]:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        body = urllib.parse.urlencode([*pairs, ("_xsrf", self.xsrf())]).encode()
        return self._open(urllib.request.Request(self.hub.url + path, data=body, method="POST"))

    def _open(self, req: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def spawn_form(self) -> str:
        code, page = self.get(f"/hub/spawn/{self.name}")
        assert code == 200, page[-2000:]
        return page

    def post_spawn(self, fields: dict[str, str] | list[tuple[str, str]]) -> tuple[int, str]:
        return self.post(f"/hub/spawn/{self.name}", fields)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def form_fields(page: str) -> dict[str, dict[str, Any]]:
    """The spawn form's fields as the page shows them: selects with their options and the selected one,
    number inputs with min, max and value."""
    fields: dict[str, dict[str, Any]] = {}
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        opts = re.findall(r'<option value="([^"]*)"( selected)?>', m.group(2))
        fields[m.group(1)] = {"choices": [v for v, _ in opts], "selected": [v for v, s in opts if s]}
    for m in re.finditer(r'<input[^>]*type="number"[^>]*>', page):
        tag = m.group(0)
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        fields[attrs["name"]] = {"min": int(attrs["min"]), "max": int(attrs["max"]), "value": attrs["value"]}
    return fields
