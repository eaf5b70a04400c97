"""`thingapp serve | sandbox | demo | check`: the ways to run the app and its sandbox."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from starlette.applications import Starlette

from thingapp.app import create_app
from thingapp.settings import Settings, SettingsError
from thingapp.tools import Tool
from thingapp.tools.scale import ScaleTool

DEMO_CLIENT_ID = "thingapp-demo"
DEMO_CLIENT_SECRET = "thingapp-demo-secret"


def _configure_logging() -> None:
    # Each request logs a line: skip what no line here shows (logging HOWTO, "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller's file and line: no frame walk per line
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")  # platforms stamp lines
    # httpx2 logs every request's full URL at INFO: signed storage and CDN addresses carry
    # credentials in their query strings. The app logs what it needs itself.
    for chatty in ("httpx2", "httpcore2"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


class PortInUse(Exception):
    """A port to listen on is taken; `str(exc)` names the flag that changes it."""


def _check_port(host: str, port: int, flag: str) -> None:
    """Refuse, in a sentence, a port another program already listens on (uvicorn would print
    a traceback)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"Port {port} on {host} is already in use ({exc.strerror}): "
                            f"stop what is using it, or choose another port with {flag}.") from exc


def _serve(app: Starlette, host: str, port: int, trusted_proxies: Sequence[str] = (),
           certificate: Path | None = None) -> uvicorn.Server:
    # Our own access log (web/security.py) leaves query strings out; uvicorn's would log them.
    # X-Forwarded-For names the client only when it comes from a proxy the operator trusts:
    # anyone else could write any address there (and so escape the per-address limits).
    pem = str(certificate) if certificate else None
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None,
                            proxy_headers=bool(trusted_proxies),
                            forwarded_allow_ips=list(trusted_proxies), ssl_certfile=pem,
                            ssl_keyfile=pem)
    return uvicorn.Server(config)


def _self_signed_certificate(folder: Path) -> Path:
    """A key and certificate for 127.0.0.1 and localhost, from a throwaway authority made now:
    browsers warn about it (accept it once, or tell a test browser to)."""
    import trustme

    path = folder / "demo-https.pem"
    trustme.CA().issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem \
        .write_to_path(str(path))
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    try:
        app = create_app(settings)
    except SettingsError as exc:
        print("thingapp can't start:", *exc.problems, sep="\n  ", file=sys.stderr)
        return 2
    _check_port(args.host, args.port, "--port (or $PORT)")
    if args.workers > 1:  # each worker process builds its own app from the same environment
        uvicorn.run("thingapp.cli:app_from_environment", factory=True, host=args.host,
                    port=args.port, workers=args.workers, access_log=False, log_config=None,
                    proxy_headers=bool(settings.trusted_proxies),
                    forwarded_allow_ips=list(settings.trusted_proxies))
        return 0
    _serve(app, args.host, args.port, settings.trusted_proxies).run()
    return 0


def app_from_environment() -> Starlette:
    """The app factory uvicorn's worker processes call (`thingapp serve --workers N`)."""
    _configure_logging()
    return create_app(Settings.from_env(os.environ))


def cmd_check(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    problems = settings.problems()
    if problems:
        print("The settings have problems:", *problems, sep="\n  ")
        return 1
    problem = asyncio.run(_store_problem(settings.store_url))
    if problem:
        print(problem)
        return 1
    print("The settings are complete, and the store answers.")
    return 0


async def _store_problem(url: str) -> str | None:
    """None when the store at `url` answers, else a sentence saying what failed."""
    from thingapp.store import open_store
    where = _without_credentials(url)
    try:
        store = await asyncio.to_thread(open_store, url)
    except Exception as exc:  # e.g. a SQLite file in a folder we may not create
        return f"The store {where} can't be opened: {exc}."
    try:
        await asyncio.wait_for(store.ping(), timeout=5)
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        return f"The store {where} did not answer: {reason.rstrip('.')}."
    finally:
        with contextlib.suppress(Exception):
            await store.close()
    return None


def _without_credentials(url: str) -> str:
    """A store URL fit to print: `redis://:password@host` loses its password."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.hostname or ''}{port}"))


def cmd_webhooks(args: argparse.Namespace) -> int:
    """List the stored webhook events, newest first, for the operator."""
    from thingapp.store import open_store
    settings = Settings.from_env(os.environ)

    async def listing() -> list[str]:
        store = open_store(settings.store_url)
        try:
            events = await store.list_webhooks(args.limit)
        finally:
            await store.close()
        return [_webhook_line(e.event, e.body, e.received_at) for e in events]

    lines = asyncio.run(listing())
    print("\n".join(lines) if lines else "No webhook events have been received.")
    return 0


def _webhook_line(event: str, body: str, received_at: float) -> str:
    order = json.loads(body).get("order", {})
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(received_at))
    return (f"{when}  {event:<17} order {order.get('id')}  thing {order.get('thing_id')}  "
            f"amount {order.get('amount')}  status {order.get('status') or '-'}")


def _sandbox_app(public_url: str, app_url: str, client_id: str, client_secret: str, *,
                 rate_limit: int | None = None, rate_window_s: float | None = None,
                 seed_dir: str | None = None, fault_specs: Sequence[str] = (),
                 upload_flow: str = "both") -> Starlette:
    """The sandbox app; raises ValueError with one sentence for a setting it can't use."""
    from dataclasses import replace

    from thingapp.sandbox import create_sandbox_app, default_config
    from thingapp.sandbox.harness.fault_spec import parse_fault_spec

    config = default_config(public_url, app_url, client_id, client_secret)
    config = replace(
        config,
        seed_dir=seed_dir,
        rate_limit=config.rate_limit if rate_limit is None else rate_limit,
        rate_window_s=config.rate_window_s if rate_window_s is None else rate_window_s,
        upload_flow=upload_flow,
    )
    faults = [parse_fault_spec(spec) for spec in fault_specs]
    return create_sandbox_app(config, faults)


def cmd_sandbox(args: argparse.Namespace) -> int:
    public_url = (args.public_url or f"http://localhost:{args.port}").rstrip("/")
    try:
        app = _sandbox_app(public_url, args.app_url.rstrip("/"), args.client_id,
                           args.client_secret, rate_limit=args.rate_limit,
                           rate_window_s=args.rate_window, seed_dir=args.seed,
                           fault_specs=args.fault, upload_flow=args.upload_flow)
    except ValueError as exc:  # a bad seed directory, fault or setting: one sentence says why
        print(f"thingapp sandbox can't start: {exc}", file=sys.stderr)
        return 2
    _check_port(args.host, args.port, "--port")
    _serve(app, args.host, args.port).run()
    return 0


def load_tool(spec: str) -> Tool:
    """`package.module:ClassName` -> an instance of that tool class, or a ValueError saying why."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"--tool {spec!r} must be written module:ClassName, "
                         "e.g. thingapp.tools.scale:ScaleTool.")
    try:
        tool_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ValueError(f"--tool {spec!r}: the module {module_name} can't be imported "
                         f"({exc}). Is it on PYTHONPATH?") from exc
    except AttributeError:
        raise ValueError(f"--tool {spec!r}: {module_name} has no {class_name}.") from None
    tool: Tool = tool_class()
    return tool


def _session_limits(env: Mapping[str, str]) -> dict[str, int]:
    """The session limits the demo takes from the environment, to try them out."""
    names = {"session_ttl": "THINGAPP_SESSION_MAX_SECONDS",
             "session_idle": "THINGAPP_SESSION_IDLE_SECONDS"}
    return {field: int(env[name]) for field, name in names.items() if env.get(name, "").isdigit()}


async def _run_demo(args: argparse.Namespace) -> None:
    _check_port("127.0.0.1", args.app_port, "--app-port")
    _check_port("127.0.0.1", args.sandbox_port, "--sandbox-port")
    scheme = "https" if args.https else "http"
    app_url = f"{scheme}://127.0.0.1:{args.app_port}"
    sandbox_url = f"http://localhost:{args.sandbox_port}"
    folder = Path(tempfile.mkdtemp(prefix="thingapp-demo-"))
    store = args.store or "sqlite:///" + str(folder / "demo.sqlite3")
    certificate = _self_signed_certificate(folder) if args.https else None
    settings = Settings.for_demo(public_url=app_url, thingiverse_url=sandbox_url,
                                 client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                                 store_url=store, session_limits=_session_limits(os.environ))
    sandbox = _sandbox_app(sandbox_url, app_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
                           upload_flow=args.upload_flow)
    servers = [
        _serve(sandbox, "127.0.0.1", args.sandbox_port),
        _serve(create_app(settings, tools=args.tools), "127.0.0.1", args.app_port,
               certificate=certificate),
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):  # a port was taken: uvicorn said why
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            raise SystemExit(1)
        await asyncio.sleep(0.05)
    print(f"""
thingapp demo is running.
  Sandbox Thingiverse  {sandbox_url}
  The app              {app_url}

Open a Thing page, click "Connect Thingiverse" and pick a user. Sign in as a Thing's owner to
post back to it; as anyone else, to remix it, or to download when its licence allows no
derivatives:
{_thing_lines(sandbox_url, sandbox)}

Press Ctrl+C to stop.""", flush=True)
    await asyncio.gather(*tasks)


def _thing_lines(sandbox_url: str, sandbox: Starlette) -> str:
    from thingapp.sandbox import list_things
    things = list_things(sandbox)
    width = max(len(f"{sandbox_url}/thing:{t.id}") for t in things)
    return "\n".join(f"  {f'{sandbox_url}/thing:{t.id}':<{width}}   {t.name}, by {t.owner}, "
                     f"{t.license}" for t in things)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        args.tools = [load_tool(spec) for spec in args.tool] or [ScaleTool()]
    except ValueError as exc:
        print(f"thingapp demo can't start: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_run_demo(args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thingapp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the app with settings from the environment")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")),
                       help="worker processes sharing the store (default $WEB_CONCURRENCY or 1)")
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="say what is wrong with the environment's settings")
    check.set_defaults(func=cmd_check)

    sandbox = sub.add_parser("sandbox", help="serve the local Thingiverse stand-in")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8800)
    sandbox.add_argument("--public-url", default="",
                         help="the sandbox's own origin (default http://localhost:PORT)")
    sandbox.add_argument("--app-url", default="http://127.0.0.1:8000",
                         help="the app's origin, embedded on Thing pages")
    sandbox.add_argument("--client-id", default=DEMO_CLIENT_ID)
    sandbox.add_argument("--client-secret", default=DEMO_CLIENT_SECRET)
    sandbox.add_argument("--rate-limit", type=int, default=None, metavar="N",
                         help="API requests per token per window (default 300)")
    sandbox.add_argument("--rate-window", type=float, default=None, metavar="SECONDS",
                         help="length of a rate-limit window in seconds (default 300)")
    sandbox.add_argument("--upload-flow", choices=["both", "new", "legacy"], default="both",
                         help="which upload endpoints the sandbox offers: Thingiverse's current "
                              "pair (uploadFile + FinalizeFiles), the older three-step flow, or "
                              "both (default)")
    sandbox.add_argument("--seed", default=None, metavar="DIR",
                         help="seed the world from DIR (users/*.json, things/<id>.json, "
                              "things/<id>/files/); see thingapp/sandbox/world/example_seed")
    sandbox.add_argument("--fault", action="append", default=[], metavar="ROUTE=SPEC",
                         help='inject a fault from the start, e.g. "POST /storage-upload='
                              'status:503", "GET /things/{id}=latency:500", '
                              '"POST /login/oauth/tokeninfo=drop" (repeatable)')
    sandbox.set_defaults(func=cmd_sandbox)

    webhooks = sub.add_parser("webhooks", help="list the received webhook events, newest first")
    webhooks.add_argument("--limit", type=int, default=50)
    webhooks.set_defaults(func=cmd_webhooks)

    demo = sub.add_parser("demo", help="run the sandbox and the app together on loopback")
    demo.add_argument("--app-port", type=int, default=8000)
    demo.add_argument("--sandbox-port", type=int, default=8800)
    demo.add_argument("--store", default="", help="store URL (default: a fresh temporary file)")
    demo.add_argument("--upload-flow", choices=["both", "new", "legacy"], default="both",
                      help="which upload endpoints the sandbox offers: Thingiverse's current "
                           "pair (uploadFile + FinalizeFiles), the older three-step flow, or "
                           "both (default)")
    demo.add_argument("--https", action="store_true",
                      help="serve the app over https with a self-signed certificate made now "
                           "(for browsers that keep no Secure cookie on http://127.0.0.1)")
    demo.add_argument("--tool", action="append", default=[], metavar="MODULE:CLASS",
                      help="a tool to offer, e.g. examples.mirror_tool:MirrorTool (repeatable; "
                           "default: the built-in thingapp.tools.scale:ScaleTool)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 0
    except PortInUse as exc:
        print(f"thingapp {args.command} can't start: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
