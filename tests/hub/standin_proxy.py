"""STAND-IN for JupyterHub's proxy (configurable-http-proxy is a Node.js program this test machine
does not install). It keeps the routes the hub asks for in memory and forwards nothing: the tests
talk to the hub on its own port and to each notebook through its tunnel's port, which is the address
the spawner returned and the hub itself checks before it calls a server ready."""

from __future__ import annotations

from typing import Any

from jupyterhub.proxy import Proxy
from traitlets import Bool


class StandinProxy(Proxy):  # type: ignore[misc]
    should_start = Bool(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes: dict[str, dict[str, Any]] = {}

    async def add_route(self, routespec: str, target: str, data: dict[str, Any]) -> None:
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec: str) -> None:
        self.routes.pop(routespec, None)

    async def get_all_routes(self) -> dict[str, dict[str, Any]]:
        return dict(self.routes)
