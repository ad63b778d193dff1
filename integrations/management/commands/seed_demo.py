"""Load demo data: emulator state, discovered hosts, integration settings and a first sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations import demo
from integrations.models import QualysSettings, SyncRun
from integrations.services import runs
from integrations.services.sync import summarize
from inventory.models import ImportRun
from inventory.services import import_file

SOURCE = "demo-discovery"


class Command(BaseCommand):
    help = (
        "Load demo data. Writes the Qualys emulator's state file (a subscription with single "
        "addresses, ranges and a /16, scanned hosts, an IPv6 placeholder with its mapping), "
        "imports a matching nmap file through the inventory importer, points the Qualys "
        "integration at the emulator and runs a first sync. The emulator reads its state file "
        "when it starts: run this command with --write-state-only before starting the "
        "emulator, then again with --emulator-url once it listens."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--state", type=Path, required=True, help="The emulator's JSON state file."
        )
        parser.add_argument(
            "--emulator-url",
            "--url",
            dest="url",
            help="The running emulator's base URL, e.g. https://127.0.0.1:8443.",
        )
        parser.add_argument(
            "--cert",
            help="The emulator's certificate (PEM) to trust for this run; default: the "
            "QUALYS_CA_BUNDLE setting.",
        )
        parser.add_argument(
            "--write-state-only",
            action="store_true",
            help="Only write the state file (before the emulator starts), then stop.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Write a new state file even if one exists (the running emulator keeps its "
            "old state until it restarts).",
        )
        parser.add_argument(
            "--scanned",
            type=int,
            default=400,
            help="Number of scanned IPv4 hosts to generate (default 400, at least 100).",
        )
        parser.add_argument("--no-sync", action="store_true", help="Do not run the first sync.")

    def handle(self, *args: Any, **options: Any) -> None:
        state_path: Path = options["state"]
        if options["scanned"] < 100:
            raise CommandError(f"--scanned must be at least 100, not {options['scanned']}.")

        data: demo.DemoData | None
        if state_path.exists() and not options["force"] and not demo.is_demo_state(state_path):
            # A state a user loaded into the emulator (POST /_emulator/state) is theirs:
            # it is kept, and the demo's hosts, which match only the demo state, are not
            # imported.
            data = None
            self.stdout.write(
                f"Keeping the emulator state in {state_path}: it is not the demo's, so the demo "
                "hosts are not imported (pass --force to write the demo state again)."
            )
        elif state_path.exists() and not options["force"]:
            password = self._existing_password(state_path)
            data = demo.generate(scanned=options["scanned"], password=password)
            self.stdout.write(f"Keeping the existing emulator state in {state_path}.")
        else:
            data = demo.generate(scanned=options["scanned"])
            demo.write_state(state_path, data)
            self.stdout.write(
                f"Wrote the emulator state to {state_path}: {len(data.state['hosts'])} scanned "
                f"hosts, {len(data.state['subscription']['ips'])} subscription entries."
            )
            if options["url"] and not options["write_state_only"]:
                self.stderr.write(
                    "warning: an emulator that is already running keeps the state it started "
                    "with; restart it to serve the new state."
                )
        if options["write_state_only"]:
            return
        if not options["url"]:
            raise CommandError(
                "--emulator-url is required to import hosts, configure the integration and sync "
                "(or pass --write-state-only)."
            )

        if data is not None:
            self._import_hosts(data)
        if not self._configure(options["url"], state_path, data):
            return
        if options["cert"]:
            settings.QUALYS_CA_BUNDLE = options["cert"]
        if not options["no_sync"]:
            run = runs.execute_run(runs.create_run(SyncRun.Trigger.COMMAND))
            self.stdout.write(summarize(run))
            if run.status != SyncRun.Status.SUCCEEDED:
                # The demo data is in place all the same, and the run's page names the failure.
                self.stderr.write(
                    f"warning: sync {run.pk} at start did not succeed: {run.error} The demo data "
                    "is loaded; see the run on Settings > Integrations > Qualys."
                )

    def _existing_password(self, path: Path) -> str:
        """Return the demo user's password in the demo state file at ``path``."""
        users = demo.read_state(path).get("users") or {}
        if demo.DEMO_USER not in users:
            raise CommandError(f"{path} has no user {demo.DEMO_USER!r}; pass --force.")
        return users[demo.DEMO_USER]

    def _import_hosts(self, data: demo.DemoData) -> None:
        """Import the demo hosts, once: a later start keeps the inventory as the user left it."""
        earlier = ImportRun.objects.filter(
            source=SOURCE, dry_run=False, status=ImportRun.Status.SUCCEEDED
        ).first()
        if earlier is not None:
            self.stdout.write(
                f"The demo hosts were imported before (import {earlier.pk}); the inventory is "
                "kept as it is."
            )
            return
        path = Path(settings.DATA_DIR) / "demo" / "demo-discovery.xml"
        demo.write_nmap(path, data.discovered)
        report = import_file(path, fmt="nmap", source=SOURCE)
        if not report.ok:
            raise CommandError(f"Importing the demo hosts failed: {report.error}")
        self.stdout.write(
            f"Imported {report.imported} discovered hosts from {path} "
            f"({report.added} new, {report.updated} updated)."
        )

    def _configure(self, url: str, state_path: Path, data: demo.DemoData | None) -> bool:
        """Point the integration at the emulator, unless a user configured another server.

        Return whether it now uses the emulator. Unset settings get the
        demo's. Settings whose user name and password are a user of the
        emulator's state follow the emulator to its new address. Any other
        settings are a user's own: they are kept, and no sync runs, because
        it would reach their server.
        """
        qualys_settings = QualysSettings.load()
        users = demo.read_state(state_path).get("users") or {}
        username, password = qualys_settings.username, qualys_settings.password
        if username and password and users.get(username) == password:
            qualys_settings.server = url.rstrip("/")
            qualys_settings.save()
            self.stdout.write(
                f"The Qualys integration keeps user {username!r} and now reaches the emulator at "
                f"{url}."
            )
            return True
        if username not in ("", demo.DEMO_USER) or data is None:
            self.stdout.write(
                f"The Qualys integration keeps its own settings (user {username!r} on "
                f"{qualys_settings.server or 'no server'}): the demo changes them only while "
                "they are unset, the demo's, or a user of the emulator's state. Start with "
                "SKIP_DEMO=1 to run without the emulator."
            )
            return False
        qualys_settings.enabled = True
        qualys_settings.server = url.rstrip("/")
        qualys_settings.username = demo.DEMO_USER
        qualys_settings.password = data.state["users"][demo.DEMO_USER]
        qualys_settings.save()
        self.stdout.write(f"The Qualys integration now uses the emulator at {url}.")
        return True
