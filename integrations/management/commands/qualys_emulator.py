"""``manage.py qualys_emulator``: serve the Qualys API emulator on loopback.

The command never touches the database. It prints the URL it serves as the
first line of standard output (``https://127.0.0.1:PORT``) and stops cleanly
on SIGTERM or SIGINT. See docs/emulator.md.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.emulator.faults import FaultError, parse_fault_flag
from integrations.emulator.handler import EmulatorApp
from integrations.emulator.server import EmulatorServer, serve_until_signal, tls_context
from integrations.emulator.state import StateError, load_state

# Above this many hosts the start-up save of the state runs in the background.
BACKGROUND_SAVE_HOSTS = 100_000


class Command(BaseCommand):
    help = "Serve a local emulator of the Qualys VM API v2 over HTTPS on 127.0.0.1."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=0,
            help="TCP port to listen on; 0 (the default) picks a free port.",
        )
        parser.add_argument(
            "--bind",
            default="127.0.0.1",
            choices=["127.0.0.1", "::1"],
            help="Loopback address to listen on.",
        )
        parser.add_argument(
            "--state",
            type=Path,
            help="JSON state file, read at start and rewritten after every "
            "change. Without it the state lives in memory only.",
        )
        parser.add_argument(
            "--cert",
            type=Path,
            help="Where to write the generated self-signed certificate (PEM). "
            "The private key is written beside it with a .key suffix. "
            "Default: a new temporary directory.",
        )
        parser.add_argument(
            "--insecure-http",
            action="store_true",
            help="Serve plain HTTP instead of HTTPS (for debugging only).",
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="FAULT",
            help="Add a fault: a JSON object or KIND[:key=value,...], e.g. "
            "truncated:endpoint=asset/host,page=2,times=1. Repeatable.",
        )
        parser.add_argument(
            "--calls-per-window",
            type=int,
            help="Override limits.calls_per_window (calls per endpoint).",
        )
        parser.add_argument(
            "--window-seconds",
            type=int,
            help="Override limits.window_seconds (rolling window, seconds).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            help="Override limits.concurrency (parallel calls per endpoint).",
        )
        parser.add_argument(
            "--licence-limit",
            type=int,
            help="Override subscription.licence_limit (maximum subscribed IPs).",
        )
        parser.add_argument(
            "--ipv6",
            action="store_true",
            help="Turn IPv6 support (placeholders and mapping records) on.",
        )
        parser.add_argument("--quiet", action="store_true", help="Do not log each request.")

    def handle(self, *args, **options) -> None:
        logging.basicConfig(
            level=logging.WARNING if options["quiet"] else logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s qualys-emulator: %(message)s",
        )
        state = self._load(options)
        context = None
        if not options["insecure_http"]:
            cert = options["cert"] or Path(tempfile.mkdtemp(prefix="qualys-emulator-")) / "cert.pem"
            context = tls_context(cert.resolve())
            self.stderr.write(f"Certificate written to {cert.resolve()}")

        app = EmulatorApp(state, quiet=options["quiet"])
        try:
            server = EmulatorServer(options["bind"], options["port"], app, context)
        except OSError as error:
            raise CommandError(
                f"cannot listen on {options['bind']} port {options['port']}: {error.strerror}. "
                "Choose another --port, or 0 for a free one."
            ) from None
        app.base_url = server.url
        small = len(state.hosts) <= BACKGROUND_SAVE_HOSTS
        if state.needs_initial_save and small:
            # Before the URL is printed, so a reader of the file sees the defaults.
            state.save()
        self.stdout.write(server.url)
        self.stdout.flush()
        saver = None
        if state.needs_initial_save and not small:
            # Write the merged state back, so the file shows every default. A
            # large state takes seconds to encode, so this runs beside the
            # server; write calls wait for it on the state lock.
            saver = threading.Thread(target=state.save, name="initial-save")
            saver.start()
        self.stderr.write(
            f"Qualys API emulator: {len(state.hosts)} hosts, {state.subscription.size} subscribed "
            f"addresses, {len(state.asset_groups)} asset groups, {len(state.faults)} faults. "
            "Stop with Ctrl+C or SIGTERM."
        )
        serve_until_signal(server)
        if saver is not None:
            saver.join()
        self.stderr.write("Qualys API emulator stopped.")

    def _load(self, options):
        path = options["state"].resolve() if options["state"] else None
        if path is not None and not path.parent.is_dir():
            raise CommandError(
                f"--state {path}: the folder {path.parent} does not exist. Create it first."
            )
        try:
            state = load_state(path)
        except StateError as error:
            raise CommandError(str(error)) from None
        for name in ("calls_per_window", "window_seconds", "concurrency"):
            value = options[name]
            if value is not None:
                if value < 1:
                    raise CommandError(
                        f"--{name.replace('_', '-')} must be at least 1, not {value}"
                    )
                state.limits[name] = value
        if options["licence_limit"] is not None:
            state.licence_limit = options["licence_limit"]
        if options["ipv6"]:
            state.ipv6_enabled = True
        for text in options["fault"]:
            try:
                state.faults.append(parse_fault_flag(text))
            except FaultError as error:
                raise CommandError(f"--fault {text!r}: {error}") from None
        changed_by_flags = any(
            options[name] is not None
            for name in ("calls_per_window", "window_seconds", "concurrency", "licence_limit")
        ) or bool(options["ipv6"] or options["fault"])
        state.needs_initial_save = options["state"] is not None and bool(
            state.missing_keys or changed_by_flags
        )
        return state
