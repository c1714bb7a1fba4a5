"""TEST-ONLY authenticator (named as such): JupyterHub's DummyAuthenticator, but it accepts any user
name, as a site's own authenticator may (JupyterHub's default check refuses a trailing newline; the
spawner must not rely on that)."""

from __future__ import annotations

from jupyterhub.auth import DummyAuthenticator


class LenientDummyAuthenticator(DummyAuthenticator):  # type: ignore[misc]
    def validate_username(self, username: str) -> bool:
        return bool(username)
