"""Forms of the inventory pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from .importers import FORMATS
from .querysets import SEARCH_HELP
from .services import name_problem

FORMAT_CHOICES = [("", "Detect from the content")] + [
    ("nmap", "nmap XML (-oX)"),
    ("csv", "CSV with a header row"),
    ("list", "Plain list: one address, CIDR block or range per line"),
]
assert [value for value, _ in FORMAT_CHOICES[1:]] == list(FORMATS)


class ImportForm(forms.Form):
    """Upload of one discovery file."""

    file = forms.FileField()
    format = forms.ChoiceField(
        choices=FORMAT_CHOICES,
        required=False,
        help_text="Leave on detect unless the file is read as the wrong format.",
    )
    source = forms.CharField(
        max_length=255,
        required=False,
        help_text=(
            "Name of the feed this file comes from. Hosts of the same source that a later "
            "complete import no longer lists are marked stale. Defaults to the file name."
        ),
    )
    address_column = forms.CharField(
        label="Address column (CSV)",
        max_length=255,
        required=False,
        help_text=(
            "The name of the column that holds the addresses, when the header calls it "
            "something other than ip, address or host, such as Adapters: IPs. Its cells may "
            "hold several addresses. Leave empty to find the column by its name."
        ),
    )
    name_column = forms.CharField(
        label="Host-name column (CSV)",
        max_length=255,
        required=False,
        help_text=(
            "The name of the column that holds the host names, when the header calls it "
            "something other than hostname, fqdn, dns name or name. Leave empty to find the "
            "column by its name."
        ),
    )
    dry_run = forms.BooleanField(
        label="Preview (dry run)",
        required=False,
        help_text="Show what the import would do without writing anything.",
    )

    def clean(self):
        cleaned = super().clean()
        for field, label, article in (
            ("address_column", "address column", "An"),
            ("name_column", "host-name column", "A"),
        ):
            column = (cleaned.get(field) or "").strip()
            cleaned[field] = column
            problem = name_problem(label, column)
            if problem:
                self.add_error(field, problem)
            elif column and cleaned.get("format") not in ("", None, "csv"):
                self.add_error(
                    field,
                    f"{article} {label} is read from CSV files only. Set the format to detect or "
                    "CSV, or leave this empty.",
                )
        return cleaned

    def clean_source(self) -> str:
        source = self.cleaned_data["source"]
        problem = name_problem("source", source)
        if problem:
            raise forms.ValidationError(problem)
        return source

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limit is a setting, read when the form is made.
        limit = filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)
        self.fields["file"].help_text = (
            "An nmap XML file, a CSV export with an address column, or a plain list. "
            f"Largest file: {limit}."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}, more than the limit of "
                f"{filesizeformat(limit)} (IMPORT_MAX_UPLOAD_BYTES). Import it on the server "
                "with manage.py import_hosts, or raise the limit."
            )
        return upload


class HostSearchForm(forms.Form):
    """The search box of the host list."""

    q = forms.CharField(
        label="Search",
        required=False,
        help_text=SEARCH_HELP,
    )
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Current and stale"), ("current", "Current only"), ("stale", "Stale only")],
    )
