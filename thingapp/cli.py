"""`thingapp serve | sandbox | demo | check`: the ways to run the app and its sandbox."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from thingapp.app import create_app
from thingapp.settings import Settings, SettingsError

DEMO_CLIENT_ID = "thingapp-demo"
DEMO_CLIENT_SECRET = "thingapp-demo-secret"


def _configure_logging() -> None:
    # Each request logs a line: skip what no line here shows (logging HOWTO, "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")  # platforms stamp lines


def _serve(app: Starlette, host: str, port: int) -> uvicorn.Server:
    # Our own AccessLog middleware logs paths without query strings; uvicorn's would log them.
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None,
                            proxy_headers=True, forwarded_allow_ips="*")
    return uvicorn.Server(config)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    try:
        app = create_app(settings)
    except SettingsError as exc:
        print("thingapp can't start:", *exc.problems, sep="\n  ", file=sys.stderr)
        return 2
    if args.workers > 1:  # each worker process builds its own app from the same environment
        uvicorn.run("thingapp.cli:app_from_environment", factory=True, host=args.host,
                    port=args.port, workers=args.workers, access_log=False, log_config=None,
                    proxy_headers=True, forwarded_allow_ips="*")
        return 0
    _serve(app, args.host, args.port).run()
    return 0


def app_from_environment() -> Starlette:
    """The app factory uvicorn's worker processes call (`thingapp serve --workers N`)."""
    _configure_logging()
    return create_app(Settings.from_env(os.environ))


def cmd_check(args: argparse.Namespace) -> int:
    problems = Settings.from_env(os.environ).problems()
    if problems:
        print("The settings have problems:", *problems, sep="\n  ")
        return 1
    print("The settings are complete.")
    return 0


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
                 seed_dir: str | None = None, fault_specs: Sequence[str] = ()) -> Starlette:
    """The sandbox app; raises ValueError with one sentence for a setting it can't use."""
    from dataclasses import replace

    from thingapp.sandbox import create_sandbox_app, default_config
    from thingapp.sandbox.fault_spec import parse_fault_spec

    config = default_config(public_url, app_url, client_id, client_secret)
    config = replace(
        config,
        seed_dir=seed_dir,
        rate_limit=config.rate_limit if rate_limit is None else rate_limit,
        rate_window_s=config.rate_window_s if rate_window_s is None else rate_window_s,
    )
    faults = [parse_fault_spec(spec) for spec in fault_specs]
    return create_sandbox_app(config, faults)


def cmd_sandbox(args: argparse.Namespace) -> int:
    public_url = (args.public_url or f"http://localhost:{args.port}").rstrip("/")
    try:
        app = _sandbox_app(public_url, args.app_url.rstrip("/"), args.client_id,
                           args.client_secret, rate_limit=args.rate_limit,
                           rate_window_s=args.rate_window, seed_dir=args.seed,
                           fault_specs=args.fault)
    except ValueError as exc:  # a bad seed directory, fault or setting: one sentence says why
        print(f"thingapp sandbox can't start: {exc}", file=sys.stderr)
        return 2
    _serve(app, args.host, args.port).run()
    return 0


async def _run_demo(args: argparse.Namespace) -> None:
    app_url = f"http://127.0.0.1:{args.app_port}"
    sandbox_url = f"http://localhost:{args.sandbox_port}"
    store = args.store or "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="thingapp-demo-"))
                                             / "demo.sqlite3")
    settings = Settings.for_demo(public_url=app_url, thingiverse_url=sandbox_url,
                                 client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                                 store_url=store)
    servers = [
        _serve(_sandbox_app(sandbox_url, app_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
               "127.0.0.1", args.sandbox_port),
        _serve(create_app(settings), "127.0.0.1", args.app_port),
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

Open a Thing page, click "Connect Thingiverse" and pick a user:
  {sandbox_url}/thing:2001   Calibration Cube, owned by mara_makes (sign in as her to post back)
  {sandbox_url}/thing:2002   Cable Clip, CC BY-SA (sign in as remy_remix to remix)
  {sandbox_url}/thing:2003   Desk Organizer, CC BY-ND (download only)

Press Ctrl+C to stop.""", flush=True)
    await asyncio.gather(*tasks)


def cmd_demo(args: argparse.Namespace) -> int:
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
    sandbox.add_argument("--seed", default=None, metavar="DIR",
                         help="seed the world from DIR (users/*.json, things/<id>.json, "
                              "things/<id>/files/); see thingapp/sandbox/example_seed")
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
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
