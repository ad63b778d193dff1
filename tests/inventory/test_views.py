"""Inventory pages: host list and detail, the upload page and its progress."""

import csv
import io
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from inventory import background
from inventory import views as inventory_views
from inventory.models import Host, ImportRun
from inventory.processes import current_owner
from inventory.services import import_file, progress_file
from inventory.templatetags.host_names import dotted_breaks
from tests.support.personas import PASSWORD

from .conftest import fixture_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def importer(db):
    """A user allowed to import hosts."""
    user = User.objects.create_user("importer", "importer@example.test", PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="add_host"))
    return user


@pytest.fixture
def importer_client(client, importer):
    client.force_login(importer)
    return client


@pytest.fixture
def many_hosts():
    Host.objects.bulk_create(
        Host(address=f"10.0.{n // 256}.{n % 256}", key=f"40a{n:06x}", version=4, source="bulk")
        for n in range(250)
    )


def test_host_list_pages_by_address(viewer_client, many_hosts):
    first = viewer_client.get(reverse("inventory:hosts"))
    assert first.status_code == 200
    hosts = first.context["hosts"]
    assert len(hosts) == 100
    assert hosts[0].address == "10.0.0.0"
    assert first.context["total"] == 250

    second = viewer_client.get(reverse("inventory:hosts"), {"after": first.context["next_key"]})
    assert second.context["hosts"][0].address == "10.0.0.100"

    third = viewer_client.get(reverse("inventory:hosts"), {"after": second.context["next_key"]})
    assert len(third.context["hosts"]) == 50
    assert third.context["next_key"] is None


def test_host_list_pages_back(viewer_client, many_hosts):
    url = reverse("inventory:hosts")
    second = viewer_client.get(url, {"after": viewer_client.get(url).context["next_key"]})
    third = viewer_client.get(url, {"after": second.context["next_key"]})

    back = viewer_client.get(url, {"before": third.context["previous_key"]})
    first = viewer_client.get(url, {"before": back.context["previous_key"]})

    assert [host.address for host in back.context["hosts"]] == [
        host.address for host in second.context["hosts"]
    ]
    assert back.context["next_key"] == second.context["next_key"]
    assert first.context["hosts"][0].address == "10.0.0.0"
    assert first.context["previous_key"] is None
    assert first.context["is_first_page"] is True
    assert 'rel="prev"' in third.content.decode()
    assert 'rel="prev"' not in first.content.decode()


def test_host_list_filters_by_cidr(viewer_client, many_hosts):
    response = viewer_client.get(reverse("inventory:hosts"), {"q": "10.0.0.0/28"})

    assert [host.address for host in response.context["hosts"]][-1] == "10.0.0.15"
    assert response.context["total"] == 16


@pytest.fixture
def named_hosts():
    """250 hosts: every third has a primary name web-N, every fifth an other name db-N."""
    hosts = []
    for n in range(250):
        names = [f"web-{n}.example.test"] if n % 3 == 0 else [f"host-{n}.example.test"]
        if n % 5 == 0:
            names.append(f"db-{n}.example.test")
        hosts.append(
            Host(
                address=f"10.0.{n // 256}.{n % 256}",
                key=f"40a{n:06x}",
                version=4,
                hostname=names[0],
                hostnames=names,
                source="bulk",
            )
        )
    Host.objects.bulk_create(hosts)


@pytest.mark.parametrize("cap", [10_000, 60, 120])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("web-", [n for n in range(250) if n % 3 == 0]),
        ("DB-", [n for n in range(250) if n % 5 == 0]),
        ("web-12", [12, 120, 123, 126, 129]),
        ("nothing-", []),
    ],
)
def test_host_list_name_search_pages_and_counts(
    viewer_client, named_hosts, monkeypatch, cap, query, expected
):
    monkeypatch.setattr(inventory_views, "SCAN_COUNT_CAP", cap)
    seen = []
    after = None
    while True:
        response = viewer_client.get(reverse("inventory:hosts"), {"q": query, "after": after or ""})
        seen += [int(host.address.rsplit(".", 1)[1]) for host in response.context["hosts"]]
        after = response.context["next_key"]
        if after is None:
            break

    assert seen == expected
    assert response.context["total"] == min(len(expected), cap)
    assert response.context["total_capped"] is (len(expected) > cap)


def test_host_list_name_count_capped(viewer_client, named_hosts, monkeypatch):
    monkeypatch.setattr(inventory_views, "SCAN_COUNT_CAP", 10)

    response = viewer_client.get(reverse("inventory:hosts"), {"q": "web-"})

    assert b"More than 10 hosts matching" in response.content


def test_host_list_filters_by_state(viewer_client, many_hosts):
    Host.objects.filter(address__in=["10.0.0.3", "10.0.0.7"]).update(stale=True)

    stale = viewer_client.get(reverse("inventory:hosts"), {"state": "stale", "q": "10.0.0.0/29"})
    current = viewer_client.get(reverse("inventory:hosts"), {"state": "current"})

    assert [host.address for host in stale.context["hosts"]] == ["10.0.0.3", "10.0.0.7"]
    assert b"2 stale hosts matching" in stale.content
    assert b"deleted by an administrator" in stale.content
    assert current.context["total"] == 248
    assert b"state=current&amp;after=" in current.content


def test_host_list_finds_mac_os_and_tags(viewer_client):
    Host.objects.create(
        address="192.0.2.1", mac="00:00:5E:00:53:01", os_name="Linux 5.4", tags=["pci"], source="s"
    )
    Host.objects.create(address="192.0.2.2", os_name="Microsoft Windows 10", source="s")

    def listed(query):
        response = viewer_client.get(reverse("inventory:hosts"), {"q": query})
        return [host.address for host in response.context["hosts"]], response

    assert listed("00-00-5e-00-53-01")[0] == ["192.0.2.1"]
    assert listed("os:WINDOWS")[0] == ["192.0.2.2"]
    found, response = listed("tag:PCI")
    assert found == ["192.0.2.1"]
    assert "1 host matching “tag:PCI”" in response.content.decode()
    assert '<td><a href="?q=tag:pci">pci</a></td>' in response.content.decode()


def test_host_list_tag_links_keep_the_state(viewer_client):
    Host.objects.create(address="192.0.2.1", tags=["pci zone", "dmz"], source="s", stale=True)

    html = viewer_client.get(reverse("inventory:hosts"), {"state": "stale"}).content.decode()

    assert (
        '<a href="?q=tag:pci%20zone&amp;state=stale">pci zone</a>, '
        '<a href="?q=tag:dmz&amp;state=stale">dmz</a>'
    ) in html


@pytest.mark.parametrize(
    ("name", "html"),
    [
        ("web-1", '<span class="name-label">web-1</span>'),
        (
            "host-192-0-2-1.example.test",
            '<span class="name-label">host-192-0-2-1.</span><wbr>'
            '<span class="name-label">example.</span><wbr><span class="name-label">test</span>',
        ),
        (
            "<b>.x",
            '<span class="name-label">&lt;b&gt;.</span><wbr><span class="name-label">x</span>',
        ),
        ("", '<span class="name-label"></span>'),
    ],
)
def test_host_names_wrap_only_after_dots(name, html):
    assert dotted_breaks(name) == html


def test_host_list_shows_qualys_flags(viewer_client):
    Host.objects.create(address="192.0.2.1", source="s")
    # As a sync sets the flags.
    Host.objects.filter(address="192.0.2.1").update(subscribed=True, scanned=False)

    html = viewer_client.get(reverse("inventory:hosts")).content.decode()

    assert '<th scope="col">In subscription</th><th scope="col">Scanned by Qualys</th>' in html
    assert "<td>yes</td>\n      <td>no</td>" in html


def test_host_list_explains_unknown_field(viewer_client):
    Host.objects.create(address="192.0.2.1", source="s")

    response = viewer_client.get(reverse("inventory:hosts"), {"q": "role:web"})

    assert "“role:” is not a search field" in response.content.decode()
    assert b"Correct the search, or <a" in response.content
    assert b'<th scope="col">Address</th>' not in response.content
    assert "No hosts match" not in response.content.decode()


def test_admin_search_explains_unknown_field(admin_client_logged_in):
    response = admin_client_logged_in.get("/admin/inventory/host/", {"q": "role:web"}, follow=True)

    assert "“role:” is not a search field" in response.content.decode()


def test_stale_list_links_deleters_to_the_admin(admin_client_logged_in):
    Host.objects.create(address="192.0.2.1", stale=True)

    response = admin_client_logged_in.get(reverse("inventory:hosts"), {"state": "stale"})

    assert b'/admin/inventory/host/?stale__exact=1">administration' in response.content
    searched = admin_client_logged_in.get(
        reverse("inventory:hosts"), {"state": "stale", "q": "192.0.2.0/24"}
    )
    assert b"?stale__exact=1&amp;q=192.0.2.0/24\">administration" in searched.content


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, "until they are deleted: expiry is off."),
        (30, "until the expiry deletes them, 30 days after they went stale."),
    ],
)
def test_stale_list_states_the_expiry(viewer_client, settings, days, expected):
    settings.INVENTORY_STALE_EXPIRY_DAYS = days
    Host.objects.create(address="192.0.2.1", stale=True)

    response = viewer_client.get(reverse("inventory:hosts"), {"state": "stale"})

    assert expected in response.content.decode()
    assert b"INVENTORY_STALE_EXPIRY_DAYS" not in response.content


def test_viewer_sees_no_import_link(viewer_client):
    response = viewer_client.get(reverse("inventory:hosts"))

    assert reverse("inventory:import").encode() not in response.content


def test_host_detail_by_address(viewer_client):
    Host.objects.create(address="2001:db8::5", hostname="five", source="s", mac="00:00:5E:00:53:05")

    response = viewer_client.get(reverse("inventory:host", args=["2001:DB8:0::5"]))

    assert response.status_code == 200
    assert b"00:00:5E:00:53:05" in response.content


def test_host_detail_shows_qualys_flags_and_tag_links(viewer_client):
    Host.objects.create(address="192.0.2.5", source="s", tags=["pci zone"])
    # As a sync leaves it.
    Host.objects.filter(address="192.0.2.5").update(subscribed=True)

    page = viewer_client.get(reverse("inventory:host", args=["192.0.2.5"])).content.decode()

    assert '<th scope="row">In the Qualys subscription</th><td>Yes</td>' in page
    assert '<th scope="row">Scanned by Qualys</th><td>No</td>' in page
    assert '<a href="/inventory/?q=tag:pci%20zone">pci zone</a>' in page


def test_host_detail_unknown_address_is_404(viewer_client):
    assert viewer_client.get(reverse("inventory:host", args=["192.0.2.99"])).status_code == 404
    assert viewer_client.get(reverse("inventory:host", args=["not-an-ip"])).status_code == 404


def test_unknown_import_run_is_404_naming_it(viewer_client):
    page = viewer_client.get(reverse("inventory:import-run", args=[999]))
    progress = viewer_client.get(reverse("inventory:import-progress", args=[999]))

    assert page.status_code == 404
    assert "Import 999 not found." in page.content.decode()
    assert progress.status_code == 404
    assert progress.json() == {"error": "Import 999 not found."}


def test_viewer_cannot_import(viewer_client):
    upload = SimpleUploadedFile("hosts.txt", b"192.0.2.1\n")

    assert viewer_client.get(reverse("inventory:import")).status_code == 403
    assert viewer_client.post(reverse("inventory:import"), {"file": upload}).status_code == 403
    assert Host.objects.count() == 0


def test_upload_page_size_limit(importer_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024

    page = importer_client.get(reverse("inventory:import")).content.decode()

    assert re.search(
        r'<p class="help" id="id_file_helptext">[^<]*Largest file: 5.0\xa0MB.</p>', page
    )


def test_upload_shows_report(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("bad_rows.csv", fixture_path("bad_rows.csv").read_bytes())

    response = importer_client.post(
        reverse("inventory:import"), {"file": upload, "source": "cmdb"}, follow=True
    )

    assert response.status_code == 200
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.source == "cmdb"
    assert run.started_by.username == "importer"
    page = response.content.decode()
    assert "Rejected rows" in page
    # An import that rejected rows is amber, here and in the list of imports.
    assert (
        '<span class="status-succeeded with-rejections">Succeeded</span>, 3 rows rejected</h2>'
        in page
    )
    listing = importer_client.get(reverse("inventory:import")).content.decode()
    assert '<td class="status-succeeded with-rejections">Succeeded, rows rejected</td>' in listing
    assert "bad_rows.csv line 7: &quot;192.0.2.300&quot; is not a valid IP address" in page
    assert "No host could be imported" not in page
    assert Host.objects.filter(source="cmdb").count() == 6
    assert run.via == ImportRun.Via.PAGE
    assert (
        f"Started {run.started_at:%Y-%m-%d %H:%M:%S} UTC by importer through the import page;"
        in page
    )
    assert f"it took {run.duration_text}." in page
    assert '<a href="/inventory/?q=source:cmdb">Hosts of source “cmdb”</a>' in page


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.04, "0.0 s"), (4.25, "4.2 s"), (59.9, "59.9 s"), (125, "2 min 5 s")]
)
def test_import_duration_text(seconds, text):
    started = timezone.now()
    run = ImportRun(started_at=started, finished_at=started + timedelta(seconds=seconds))

    assert run.duration_text == text
    assert ImportRun(started_at=started).duration_text == ""


def test_upload_with_named_address_column(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile(
        "assets.csv", b'Asset,Adapters: IPs\nweb-1,"192.0.2.10 192.0.2.11"\n'
    )

    response = importer_client.post(
        reverse("inventory:import"),
        {"file": upload, "address_column": "Adapters: IPs"},
        follow=True,
    )
    wrong = importer_client.post(
        reverse("inventory:import"),
        {
            "file": SimpleUploadedFile("scan.xml", b"<nmaprun/>"),
            "format": "nmap",
            "address_column": "ip",
        },
    )

    assert "address column “Adapters: IPs”" in response.content.decode()
    assert Host.objects.count() == 2
    assert wrong.status_code == 400
    assert "An address column is read from CSV files only." in wrong.content.decode()


def test_upload_with_named_name_column(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("switches.csv", b"ip,Device\n192.0.2.10,core-1.example.test\n")

    response = importer_client.post(
        reverse("inventory:import"), {"file": upload, "name_column": "Device"}, follow=True
    )
    wrong = importer_client.post(
        reverse("inventory:import"),
        {
            "file": SimpleUploadedFile("hosts.txt", b"192.0.2.1\n"),
            "format": "list",
            "name_column": "Device",
        },
    )

    assert "host-name column “Device”" in response.content.decode()
    assert Host.objects.get().hostnames == ["core-1.example.test"]
    assert wrong.status_code == 400
    assert "A host-name column is read from CSV files only." in wrong.content.decode()


def test_upload_of_interrupted_scan_warns(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("scan.xml", fixture_path("interrupted.xml").read_bytes())

    response = importer_client.post(reverse("inventory:import"), {"file": upload}, follow=True)

    assert response.status_code == 200
    assert ImportRun.objects.get().status == ImportRun.Status.PARTIAL
    assert set(Host.objects.values_list("address", flat=True)) == {"192.0.2.1"}
    page = response.content.decode()
    assert '<span class="status-partial">Partial (file ends early)</span>' in page
    assert "scan.xml: no runstats; file ends early at line 2." in page
    assert "1 complete host that is up was read" in page


def test_upload_without_hosts_says_so(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("comments.txt", b"# nothing yet\n")

    response = importer_client.post(reverse("inventory:import"), {"file": upload}, follow=True)

    page = response.content.decode()
    assert "No host could be imported from this file: see the warnings" in page
    assert '<span class="status-empty">Nothing imported</span>' in page
    assert ImportRun.objects.get().status == ImportRun.Status.EMPTY


def test_upload_preview_writes_nothing(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("hosts.csv", fixture_path("hosts.csv").read_bytes())

    response = importer_client.post(
        reverse("inventory:import"), {"file": upload, "dry_run": "on"}, follow=True
    )

    assert b"This was a preview: nothing was written." in response.content
    # Its counts are what an import would do.
    page = response.content.decode()
    assert '<th scope="row">Would add</th><td>3</td>' in page
    assert '<th scope="row">Would mark stale</th>' in page
    assert '<th scope="row">Added</th>' not in page
    assert Host.objects.count() == 0



def _preview(client, name: str, content: bytes, **fields) -> ImportRun:
    upload = SimpleUploadedFile(name, content)
    client.post(reverse("inventory:import"), {"file": upload, "dry_run": "on", **fields})
    return ImportRun.objects.latest("pk")


def test_preview_report_imports_kept_file(importer_client, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    content = fixture_path("hosts.csv").read_bytes()
    preview = _preview(importer_client, "hosts.csv", content, source="cmdb", name_column="hostname")

    page = importer_client.get(reverse("inventory:import-run", args=[preview.pk])).content
    assert b"Import this file" in page
    assert background.kept_preview_path(preview.pk).read_bytes() == content

    response = importer_client.post(
        reverse("inventory:import-preview-apply", args=[preview.pk]), follow=True
    )

    run = ImportRun.objects.latest("pk")
    assert run.pk != preview.pk
    assert response.redirect_chain[-1][0] == reverse("inventory:import-run", args=[run.pk])
    assert run.status == ImportRun.Status.SUCCEEDED
    assert (run.source, run.file_name, run.file_format) == ("cmdb", "hosts.csv", "csv")
    assert run.name_column == "hostname"
    assert run.started_by.username == "importer"
    assert run.added == preview.added
    assert sorted(Host.objects.values_list("address", flat=True)) == [
        "192.0.2.1",
        "192.0.2.2",
        "2001:db8::1",
    ]
    assert not background.kept_preview_path(preview.pk).exists()
    assert list((tmp_path / "uploads").iterdir()) == []
    preview_page = importer_client.get(reverse("inventory:import-run", args=[preview.pk]))
    run_url = reverse("inventory:import-run", args=[run.pk])
    assert f'see <a href="{run_url}">import {run.pk}</a>' in preview_page.content.decode()


def test_preview_file_imports_only_once(importer_client, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    preview = _preview(importer_client, "hosts.txt", b"192.0.2.1\n")
    apply_url = reverse("inventory:import-preview-apply", args=[preview.pk])
    importer_client.post(apply_url)

    response = importer_client.post(apply_url, follow=True)

    page = response.content.decode()
    assert f"The file of preview {preview.pk} (hosts.txt) is no longer kept" in page
    assert "Import this file" not in page
    assert ImportRun.objects.count() == 2
    assert Host.objects.count() == 1


def test_preview_file_expires(importer_client, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    settings.IMPORT_PREVIEW_KEEP_HOURS = 2
    preview = _preview(importer_client, "hosts.txt", b"192.0.2.1\n")
    kept_file = background.kept_preview_path(preview.pk)

    assert background.prune_kept_previews(now=time.time() + 3600) == 0
    assert kept_file.exists()
    assert background.prune_kept_previews(now=time.time() + 2 * 3600 + 60) == 1
    assert not kept_file.exists()
    page = importer_client.get(reverse("inventory:import-run", args=[preview.pk])).content
    assert b"Import this file" not in page


def test_preview_file_not_kept_when_disabled(importer_client, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    settings.IMPORT_PREVIEW_KEEP_HOURS = 0
    preview = _preview(importer_client, "hosts.txt", b"192.0.2.1\n")

    assert preview.status == ImportRun.Status.PREVIEW
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("hosts.csv.gz", b"\x1f\x8b\x08\x00" + bytes(16), ImportRun.Status.FAILED),
        ("comments.txt", b"# nothing yet\n", ImportRun.Status.PREVIEW),
    ],
)
def test_preview_without_hosts_keeps_no_file(
    importer_client, settings, tmp_path, name, content, status
):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    preview = _preview(importer_client, name, content)

    assert preview.status == status
    assert list((tmp_path / "uploads").iterdir()) == []
    page = importer_client.get(reverse("inventory:import-run", args=[preview.pk])).content
    assert b"Import this file" not in page
    response = importer_client.post(reverse("inventory:import-preview-apply", args=[preview.pk]))
    assert response.status_code == 302
    assert ImportRun.objects.count() == 1


def test_viewer_cannot_import_preview(importer, viewer, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    importer_client, viewer_client = Client(), Client()
    importer_client.force_login(importer)
    viewer_client.force_login(viewer)
    preview = _preview(importer_client, "hosts.txt", b"192.0.2.1\n")

    page = viewer_client.get(reverse("inventory:import-run", args=[preview.pk])).content
    response = viewer_client.post(reverse("inventory:import-preview-apply", args=[preview.pk]))

    assert b"Import this file" not in page
    assert response.status_code == 403
    assert background.kept_preview_path(preview.pk).exists()
    assert Host.objects.count() == 0


def test_failed_preview_is_marked_in_recent_imports(importer_client, settings, tmp_path):
    settings.INVENTORY_IMPORT_INLINE = True
    settings.DATA_DIR = tmp_path
    _preview(importer_client, "hosts.csv.gz", b"\x1f\x8b\x08\x00" + bytes(16))

    page = importer_client.get(reverse("inventory:import")).content.decode()

    assert '<td class="status-failed">Failed (preview)</td>' in page
    assert ImportRun.objects.get().dry_run is True


def test_recent_imports_page_back(importer_client):
    # Importers without access to the administration page back too.
    for number in range(12):
        ImportRun.objects.create(source="feed", file_name=f"scan-{number}.xml")

    first = importer_client.get(reverse("inventory:import")).content.decode()
    second = importer_client.get(reverse("inventory:import"), {"page": "2"}).content.decode()

    assert "Imports 1 to 10 of 12, latest first." in first
    assert '<a href="?page=2">Earlier imports</a>' in first
    assert "scan-11.xml" in first
    assert "scan-1.xml" not in first
    assert "Imports 11 to 12 of 12, latest first." in second
    assert '<a href="?page=1">Later imports</a>' in second
    assert "<td>scan-0.xml</td>" in second


def test_upload_with_control_character_in_source_is_refused(importer_client):
    upload = SimpleUploadedFile("hosts.txt", b"192.0.2.1\n")

    response = importer_client.post(
        reverse("inventory:import"), {"file": upload, "source": "feed\tnightly"}
    )

    assert response.status_code == 400
    assert b"contains the control character U+0009" in response.content
    assert ImportRun.objects.count() == 0


def test_upload_over_the_limit_is_rejected(importer_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    upload = SimpleUploadedFile("hosts.txt", b"192.0.2.1\n192.0.2.2\n")

    response = importer_client.post(reverse("inventory:import"), {"file": upload})

    assert response.status_code == 400
    assert b"more than the limit of 10" in response.content
    assert ImportRun.objects.count() == 0


def test_progress_json_reports_done(importer_client, settings):
    settings.INVENTORY_IMPORT_INLINE = True
    upload = SimpleUploadedFile("hosts.txt", b"192.0.2.1\n")
    importer_client.post(reverse("inventory:import"), {"file": upload})
    run = ImportRun.objects.get()

    data = importer_client.get(reverse("inventory:import-progress", args=[run.pk])).json()

    assert data["done"] is True
    assert data["status"] == "succeeded"
    assert data["percent"] == 100
    assert data["hosts"] == 1


def test_admin_search_takes_cidr(admin_client_logged_in):
    Host.objects.create(address="192.0.2.1", source="s")
    Host.objects.create(address="192.0.2.17", source="s", hostname="db-17")

    by_cidr = admin_client_logged_in.get("/admin/inventory/host/", {"q": "192.0.2.0/28"})
    by_name = admin_client_logged_in.get("/admin/inventory/host/", {"q": "db-"})

    assert [h.address for h in by_cidr.context["cl"].result_list] == ["192.0.2.1"]
    assert [h.address for h in by_name.context["cl"].result_list] == ["192.0.2.17"]


def test_admin_bulk_delete_sends_signal(admin_client_logged_in, signals):
    host = Host.objects.create(address="192.0.2.1", source="s")
    Host.objects.create(address="192.0.2.2", source="s")

    confirmation = admin_client_logged_in.post(
        "/admin/inventory/host/", {"action": "delete_hosts", "_selected_action": [host.pk]}
    )
    admin_client_logged_in.post(
        "/admin/inventory/host/",
        {"action": "delete_hosts", "_selected_action": [host.pk], "post": "yes"},
    )

    assert "Delete 1 host from the index?" in confirmation.content.decode()
    assert list(Host.objects.values_list("address", flat=True)) == ["192.0.2.2"]
    assert signals.deleted[0]["keys"] == [host.key]


def test_admin_edits_tags_of_every_filtered_host(admin_client_logged_in, monkeypatch):
    monkeypatch.setattr("inventory.services.RETAG_CHUNK", 7)
    Host.objects.bulk_create(
        Host(address=f"10.0.0.{n}", key=f"40a{n:06x}", version=4, source="s", tags=["PCI", "old"])
        for n in range(20)
    )
    outside = Host.objects.create(address="192.0.2.1", source="s", tags=["old"])
    changelist = "/admin/inventory/host/?q=10.0.0.0/24"
    form = {"action": "edit_tags", "select_across": "1", "_selected_action": [1]}

    page = admin_client_logged_in.post(changelist, form).content.decode()
    empty = admin_client_logged_in.post(changelist, {**form, "post": "yes"}).content.decode()
    done = admin_client_logged_in.post(
        changelist, {**form, "post": "yes", "add": "pci, dmz", "remove": "OLD"}, follow=True
    )

    assert "Change the tags of 20 hosts." in page
    assert "Enter a tag to add or a tag to remove." in empty
    assert "Tags changed on 20 hosts." in done.content.decode()
    assert set(
        tuple(tags) for tags in Host.objects.exclude(pk=outside.pk).values_list("tags", flat=True)
    ) == {("PCI", "dmz")}
    assert Host.objects.get(pk=outside.pk).tags == ["old"]


def test_admin_deletes_every_filtered_host(admin_client_logged_in, signals):
    # More hosts than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000): Django's own bulk
    # delete would send one form field for each.
    Host.objects.bulk_create(
        Host(address=f"10.0.{n // 256}.{n % 256}", key=f"40a{n:06x}", version=4, source="old")
        for n in range(1500)
    )
    Host.objects.filter(key__lt="40a000200").update(stale=True)
    other_source_host = Host.objects.create(address="192.0.2.1", source="s", stale=True)
    changelist = "/admin/inventory/host/?stale__exact=1&source__exact=old"
    # "Select all" sends the checked hosts of the page beside select_across.
    page_hosts = list(
        Host.objects.filter(stale=True, source="old").values_list("pk", flat=True)[:100]
    )
    form = {"action": "delete_hosts", "select_across": "1", "_selected_action": page_hosts}

    confirmation = admin_client_logged_in.post(changelist, form)
    page = confirmation.content.decode()
    done = admin_client_logged_in.post(changelist, {**form, "post": "yes"}, follow=True)

    assert "Delete 512 hosts from the index?" in page
    assert "<li>10.0.0.0, stale</li>" in page
    assert "and 492 more" in page
    assert page.count('name="_selected_action"') == 100
    assert "Deleted 512 hosts." in done.content.decode()
    assert Host.objects.count() == 1500 - 512 + 1
    assert Host.objects.filter(pk=other_source_host.pk).exists()
    assert len(signals.deleted[0]["keys"]) == 512


def test_admin_offers_no_default_bulk_delete(admin_client_logged_in):
    page = admin_client_logged_in.get("/admin/inventory/host/").content.decode()

    assert 'value="delete_hosts"' in page
    assert 'value="delete_selected"' not in page


def admin_host_form(address: str) -> dict:
    return {
        "address": address,
        "hostname": "",
        "hostnames": "",
        "mac": "",
        "mac_vendor": "",
        "os_name": "",
        "tags": "",
        "source": "admin",
        "last_seen_0": "2026-12-01",
        "last_seen_1": "10:00:00",
        "stale_since_0": "",
        "stale_since_1": "",
    }


def test_admin_add_canonicalises_address(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/inventory/host/add/", admin_host_form("2001:DB8:0:0::9")
    )

    assert response.status_code == 302
    assert Host.objects.get().address == "2001:db8::9"


def test_admin_rejects_invalid_or_duplicate_address(admin_client_logged_in):
    Host.objects.create(address="192.0.2.1", source="s")

    invalid = admin_client_logged_in.post(
        "/admin/inventory/host/add/", admin_host_form("192.0.2.256")
    )
    duplicate = admin_client_logged_in.post(
        "/admin/inventory/host/add/", admin_host_form("192.0.2.1")
    )

    assert invalid.status_code == 200
    assert "is not a valid IP address" in invalid.content.decode()
    assert duplicate.status_code == 200
    assert "192.0.2.1 is already indexed" in duplicate.content.decode()
    assert Host.objects.count() == 1


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address (127.0.0.0/8), which no discovered host"),
        ("224.0.0.5", "224.0.0.5 is a multicast group address (224.0.0.0/4)"),
        ("fe80::1", "fe80::1 is a link-local address (fe80::/10)"),
    ],
)
def test_admin_rejects_non_host_address(admin_client_logged_in, address, message):
    response = admin_client_logged_in.post("/admin/inventory/host/add/", admin_host_form(address))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Host.objects.count() == 0


def test_admin_form_applies_import_rules(admin_client_logged_in):
    form = admin_host_form(" 192.0.2.7\u00a0")
    form.update(
        hostname="Web-7.Example.TEST",
        hostnames="alias-7.example.test, WEB-7.example.test alias-7.example.test",
        mac="00-00-5e-00-53-07",
        tags="dmz, owner: web team,dmz",
        stale="on",
    )

    response = admin_client_logged_in.post("/admin/inventory/host/add/", form)

    assert response.status_code == 302
    host = Host.objects.get()
    assert host.address == "192.0.2.7"
    assert host.hostname == "web-7.example.test"
    assert host.hostnames == ["alias-7.example.test", "web-7.example.test"]
    assert host.mac == "00:00:5E:00:53:07"
    assert host.tags == ["dmz", "owner: web team"]
    assert host.stale is True
    assert host.stale_since is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hostname", "web01.example.test db01", "is more than one name. Enter the primary"),
        ("hostname", "x" * 300, "Ensure this value has at most 255 characters"),
        ("hostnames", "ok.example.test, " + "y" * 256, "is 256 characters long"),
        ("tags", "dmz, bad\x07tag", "contains a control character"),
    ],
)
def test_admin_form_rejects_bad_names(admin_client_logged_in, field, value, message):
    form = admin_host_form("192.0.2.8")
    form[field] = value

    response = admin_client_logged_in.post("/admin/inventory/host/add/", form)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Host.objects.count() == 0


def test_admin_form_rejects_bad_mac(admin_client_logged_in):
    form = admin_host_form("192.0.2.8")
    form["mac"] = "zz:zz"

    response = admin_client_logged_in.post("/admin/inventory/host/add/", form)

    assert response.status_code == 200
    assert "&quot;zz:zz&quot; is not a MAC address" in response.content.decode()
    assert Host.objects.count() == 0


def test_admin_form_clears_stale_since_of_current_host(admin_client_logged_in):
    host = Host.objects.create(
        address="192.0.2.9", source="s", stale=True, stale_since=timezone.now()
    )
    form = admin_host_form("192.0.2.9")

    response = admin_client_logged_in.post(f"/admin/inventory/host/{host.pk}/change/", form)

    assert response.status_code == 302
    host.refresh_from_db()
    assert (host.stale, host.stale_since) == (False, None)


@pytest.mark.django_db(transaction=True)
def test_progress_reaches_other_web_processes(importer_client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    run = ImportRun.objects.create(source="scan", file_name="scan.xml")
    writer = background._ProgressWriter(run.pk)
    try:
        writer(600, 1000, 1234)
        # Another web process has no entry for the import in its registry.
        background._registry.pop(run.pk, None)

        data = importer_client.get(reverse("inventory:import-progress", args=[run.pk])).json()
    finally:
        writer.close()

    assert data["done"] is False
    assert data["percent"] == 60
    assert data["hosts"] == 1234
    assert not progress_file(run.pk).exists()


def owner_with_start(start: str) -> str:
    host, pid, _ = current_owner().rsplit(":", 2)
    return f"{host}:{pid}:{start}"


def test_import_whose_process_ended_is_failed(importer_client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    # The same pid with another start time: an earlier process, since ended.
    run = ImportRun.objects.create(source="s", file_name="big.csv", owner=owner_with_start("1"))
    leftover = progress_file(run.pk)
    leftover.parent.mkdir(parents=True)
    leftover.write_text('{"bytes_read": 42, "total_bytes": 100, "hosts": 68000}')

    data = importer_client.get(reverse("inventory:import-progress", args=[run.pk])).json()

    assert data["done"] is True
    assert data["status"] == "failed"
    assert data["hosts"] == 0
    run.refresh_from_db()
    assert run.error.startswith("The process that ran this import (pid ")
    assert "import the file again" in run.error
    assert run.finished_at is not None
    assert not leftover.exists()


@pytest.mark.parametrize(
    "owner", ["", "elsewhere.example.test:1:1", "not an owner"], ids=["none", "other", "bad"]
)
def test_import_of_unknown_process_keeps_running(importer_client, owner):
    run = ImportRun.objects.create(source="s", file_name="big.csv", owner=owner)

    response = importer_client.get(reverse("inventory:import-run", args=[run.pk]))

    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == ImportRun.Status.RUNNING


def test_running_import_of_this_process_stays(importer_client):
    run = ImportRun.objects.create(source="s", file_name="big.csv", owner=current_owner())

    importer_client.get(reverse("inventory:import"))

    run.refresh_from_db()
    assert run.status == ImportRun.Status.RUNNING


def test_host_list_explains_invalid_address_search(importer_client):
    response = importer_client.get(reverse("inventory:hosts"), {"q": "192.0.2.7/33"})

    assert response.status_code == 200
    assert "“192.0.2.7/33” is not a valid address, block or range" in response.content.decode()


def test_host_list_explains_incomplete_address(importer_client):
    response = importer_client.get(reverse("inventory:hosts"), {"q": "192.0.2"})

    html = response.content.decode()
    assert "“192.0.2” is not a complete IPv4 address. Enter 192.0.2. (with the final dot)" in html
    assert "a block such as 192.0.2.0/24." in html
    assert "Correct the search, or <a" in html


def export_text(client, params: dict | None = None, **headers) -> tuple[int, str]:
    response = client.get(reverse("inventory:export"), params or {}, **headers)
    if not response.streaming:
        return response.status_code, response.content.decode()
    return response.status_code, b"".join(response.streaming_content).decode()


def test_host_export_writes_every_found_host(viewer_client, monkeypatch):
    monkeypatch.setattr("inventory.exports.CHUNK", 2)
    for last in range(1, 6):
        Host.objects.create(
            address=f"192.0.2.{last}",
            hostname=f"web-{last}",
            hostnames=[f"web-{last}", f"alias-{last}"],
            os_name="=cmd()" if last == 3 else "Linux",
            tags=["pci"] if last % 2 else [],
            source="scan.xml",
        )
    Host.objects.create(address="198.51.100.1", hostname="db-1", source="scan.xml", stale=True)

    status, text = export_text(viewer_client, {"q": "web-", "state": "current"})
    rows = list(csv.reader(io.StringIO(text)))

    assert status == 200
    header = rows[0]
    assert header[:3] == ["Address", "Host name", "Host names"]
    assert [row[0] for row in rows[1:]] == [f"192.0.2.{last}" for last in range(1, 6)]
    assert rows[1][2] == "web-1 alias-1"
    assert rows[3][header.index("OS guess")] == "'=cmd()"
    assert rows[1][header.index("Tags")] == "pci"
    assert rows[2][header.index("Tags")] == ""
    assert [row[0] for row in list(csv.reader(io.StringIO(export_text(viewer_client)[1])))[1:]] == [
        *(f"192.0.2.{last}" for last in range(1, 6)),
        "198.51.100.1",
    ]


HOST_DETAILS = ("hostname", "hostnames", "mac", "mac_vendor", "os_name", "tags")


def test_host_export_imports_back_unchanged(viewer_client, tmp_path):
    # Every text field that the export guards, and names, tags and an IPv6 address.
    Host.objects.create(
        address="192.0.2.1",
        hostname="web-1.example.test",
        hostnames=["web-1.example.test", "alias-1.example.test"],
        mac="00:00:5E:00:53:01",
        mac_vendor="+Vendor",
        os_name="=cmd()",
        tags=["-dmz", "pci"],
        source="scan.xml",
    )
    Host.objects.create(address="2001:db8::1", os_name="Linux 5.4", tags=["@ops"], source="s")
    # A text that starts with an apostrophe, before a formula character or not.
    Host.objects.create(
        address="192.0.2.2", os_name="'-x", mac_vendor="'quoted", tags=["'=t"], source="s"
    )
    Host.objects.create(address="198.51.100.1", source="s")
    before = {host.address: host for host in Host.objects.all()}
    path = tmp_path / "hosts.csv"
    path.write_text(export_text(viewer_client)[1], encoding="utf-8")
    Host.objects.all().delete()

    report = import_file(path)

    assert (report.added, report.rejected_count, report.warnings) == (4, 0, [])
    for host in Host.objects.all():
        old = before[host.address]
        assert [getattr(host, name) for name in HOST_DETAILS] == [
            getattr(old, name) for name in HOST_DETAILS
        ]


def test_host_export_token_and_errors(client, viewer):
    _, raw = ApiToken.issue(viewer, "export")
    Host.objects.create(address="192.0.2.1", source="s", os_name="Windows 10")

    status, text = export_text(client, {"q": "os:windows"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    bad_status, message = export_text(client, {"q": "role:x"}, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert status == 200
    assert text.splitlines()[1].startswith("192.0.2.1,")
    assert bad_status == 400
    assert "“role:” is not a search field" in message
    state_status, state_message = export_text(
        client, {"state": "bogus"}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert state_status == 400
    assert "state must be current or stale, not “bogus”." in state_message


def test_host_list_links_its_export(viewer_client):
    Host.objects.create(address="192.0.2.1", source="s")

    page = viewer_client.get(reverse("inventory:hosts"), {"q": "192.0.2.0/24"}).content.decode()

    assert 'href="/inventory/hosts.csv?q=192.0.2.0/24&amp;state="' in page


def test_admin_import_runs_load_users_together(admin_client_logged_in, importer):
    for _ in range(20):
        ImportRun.objects.create(source="s", file_name="f.csv", started_by=importer)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client_logged_in.get("/admin/inventory/importrun/")

    assert response.status_code == 200
    assert sum("auth_user" in query["sql"] for query in queries.captured_queries) <= 2
