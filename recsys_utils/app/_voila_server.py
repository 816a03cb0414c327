"""The Voila server behind ``make demo``, hardened to be left running (run by ``app.serve``).

Voila alone serves anyone who can reach the port: every ``GET /`` starts a kernel
(about 430 MB) that is never culled, any ``Host`` header is accepted (DNS rebinding)
and a page on another site may load the app. Here:

- **Host and Origin.** A request whose ``Host`` is not 127.0.0.1, ``localhost`` or
  ``[::1]`` (or a name passed with ``--allow-host``) is refused with 403, as is one
  whose ``Origin`` names another host or whose ``Sec-Fetch-Site`` is ``cross-site``.
- **A token.** Voila's token login: the first visit carries ``?token=...`` (printed by
  ``app.serve``, never on a command line), later ones a cookie marked
  ``SameSite=Strict``, which a foreign page cannot make the browser send.
- **One kernel per browser session, a cap, an idle cull.** A session cookie names the
  browser; loading the page again shuts down that session's earlier kernel first; past
  ``max_sessions`` live kernels a new session is answered 503; a kernel with no open
  connection is culled after ``cull_idle_timeout`` seconds of idleness.

``app.serve`` starts this module as ``python -m recsys_utils.app._voila_server``; the
token comes in ``$RECSYS_APP_TOKEN``, removed from the environment before any kernel
starts.
"""

from __future__ import annotations

import contextvars
import inspect
import ipaddress
import os
import secrets
import sys
from urllib.parse import urlsplit

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Int, List, Unicode
from voila.app import Voila

TOKEN_ENV = "RECSYS_APP_TOKEN"
SESSION_COOKIE = "recsys_app_session"
LOCAL_NAMES = ("localhost",)

# the browser session whose page is being rendered: read by the kernel manager when the
# page starts its kernel (prepare, get and start_kernel run in one asyncio task)
_session: contextvars.ContextVar[str | None] = contextvars.ContextVar("session", default=None)


def host_allowed(hostname: str, extra: tuple[str, ...] = ()) -> bool:
    """Whether ``hostname`` (no port, no brackets) is this machine's loopback or opted in."""
    hostname = hostname.lower().rstrip(".")
    if hostname in LOCAL_NAMES or hostname in extra:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def refusal(headers, extra_hosts: tuple[str, ...] = ()) -> str | None:
    """Why a request with these headers is refused (``None``: it may go on)."""
    host = headers.get("Host")
    if not host:
        return "no Host header"
    hostname = urlsplit(f"//{host}").hostname or ""
    if not host_allowed(hostname, extra_hosts):
        return f"Host {host!r} is not this machine (pass --allow-host to serve that name)"
    origin = headers.get("Origin")
    if origin is not None:
        origin_host = urlsplit(origin).hostname if origin != "null" else None
        if not origin_host or not host_allowed(origin_host, extra_hosts):
            return f"Origin {origin!r} is another site"
    if headers.get("Sec-Fetch-Site") == "cross-site":
        return "a request made by another site's page"
    return None


class SessionKernelManager(AsyncMappingKernelManager):
    """Kernels keyed by browser session: at most ``max_sessions`` at once, one each."""

    max_sessions = Int(4, help="most kernels alive at once").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.by_session: dict[str, str] = {}

    def live(self, kernel_id: str | None) -> bool:
        return kernel_id is not None and kernel_id in self

    async def make_room(self, session: str) -> bool:
        """Shut down ``session``'s earlier kernel; whether one more kernel fits the cap."""
        old = self.by_session.pop(session, None)
        if self.live(old):
            await self.shutdown_kernel(old, now=True)
        return len(self.list_kernel_ids()) < self.max_sessions

    async def start_kernel(self, **kwargs):
        session = _session.get()
        if session is not None and not await self.make_room(session):
            raise web.HTTPError(503, "too many app sessions")
        kernel_id = await super().start_kernel(**kwargs)
        if session is not None:
            self.by_session[session] = kernel_id
        return kernel_id


def guarded(handler: type, extra_hosts: tuple[str, ...], page: bool) -> type:
    """``handler`` with the Host/Origin check first and, for the page, the session cap."""

    class Guarded(handler):
        async def prepare(self, *args, **kwargs):
            why = refusal(self.request.headers, extra_hosts)
            if why:
                self.log.warning("refused %s %s: %s", self.request.method, self.request.uri, why)
                raise web.HTTPError(403, why)
            result = super().prepare(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        if page:

            async def get(self, *args, **kwargs):
                if self.current_user:
                    session = self.get_cookie(SESSION_COOKIE)
                    if not session:
                        session = secrets.token_urlsafe(16)
                        self.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict")
                    if not await self.kernel_manager.make_room(session):
                        self.log.warning("refused a new app session: the cap is reached")
                        raise web.HTTPError(
                            503, "too many app sessions are open; close one or wait"
                        )
                    _session.set(session)
                return await super().get(*args, **kwargs)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{handler.__name__}"
    return Guarded


class GuardedVoila(Voila):
    """Voila with the checks above (see the module docstring)."""

    allow_hosts = List(Unicode(), help="host names served besides loopback").tag(config=True)

    def init_settings(self):
        if self.token is None:
            self.token = os.environ.pop(TOKEN_ENV, None) or secrets.token_urlsafe(24)
        self.config.IdentityProvider.cookie_options = {"samesite": "Strict"}
        self.config.VoilaConfiguration.multi_kernel_manager_class = SessionKernelManager
        self.voila_configuration.multi_kernel_manager_class = SessionKernelManager
        settings = super().init_settings()
        settings["xsrf_cookie_kwargs"] = {"samesite": "Strict"}
        return settings

    def init_handlers(self):
        extra = tuple(h.lower() for h in self.allow_hosts)
        out = []
        for pattern, handler, *rest in super().init_handlers():
            page = handler.__name__ == "TornadoVoilaHandler"
            out.append((pattern, guarded(handler, extra, page), *rest))
        return out


def main(argv: list[str] | None = None) -> None:
    GuardedVoila.launch_instance(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
