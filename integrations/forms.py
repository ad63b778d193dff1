"""The Qualys settings form and the rules for its server field."""

import ipaddress
import re

from cryptography.fernet import InvalidToken
from django import forms
from django.core.exceptions import ValidationError

from . import constants
from .fields import credentials_cipher, is_unreadable
from .models import QualysSettings

SERVER_EXAMPLE = "qualysapi.qualys.com, 127.0.0.1:8443 or [::1]:8443"
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_HOST_LENGTH = 253
MAX_PAGE_SIZE = 1_000_000
# Schemes recognised in "scheme:rest" written without slashes, to name them in the error.
URL_SCHEMES = {
    "http",
    "https",
    "ftp",
    "ftps",
    "file",
    "ldap",
    "ldaps",
    "mailto",
    "ssh",
    "ws",
    "wss",
}

AUTO_SUBSCRIBE_HELP = (
    "On: hosts indexed by Lumeta that are missing from the Qualys subscription (I − S) "
    "are added to the subscription with VM enabled, then the asset group "
    f"{constants.ASSET_GROUP_TITLE} is set to every subscribed address that Qualys has not "
    "scanned (S − M), whole subscribed ranges included, not only discovered hosts. Off: "
    "nothing is added to the subscription, and the asset group is set to the hosts that are "
    "both indexed and subscribed but not scanned ((I ∩ S) − M)."
)


def _reject(problem: str, value: str) -> ValidationError:
    return ValidationError(
        f"“{value}”: {problem[0].lower()}{problem[1:]}. Enter the API server's host name or "
        f"IP address, optionally with a port, such as {SERVER_EXAMPLE}.",
        code="invalid_server",
    )


def _parse_port(text: str, value: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise _reject(f"The port “{text}” is not a number from 1 to 65535", value)
    return int(text)


def _split_host_port(authority: str, value: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` or ``[ipv6][:port]``; a bare IPv6 address has no port."""
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket:
            raise _reject("The IPv6 address has no closing “]”", value)
        if rest and not rest.startswith(":"):
            raise _reject(f"Unexpected text “{rest}” after the IPv6 address", value)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _reject(f"“{host}” is not a valid IPv6 address", value) from None
        return host, _parse_port(rest[1:], value) if rest else None
    if authority.count(":") > 1:
        # Only a bare IPv6 address has several colons; it cannot carry a port.
        try:
            ipaddress.IPv6Address(authority)
        except ValueError:
            raise _reject(
                "This is neither a host name nor an IPv6 address (write an IPv6 address "
                "with a port in brackets, such as [2001:db8::1]:8443)",
                value,
            ) from None
        prefix, _, last = authority.rpartition(":")
        if last.isdigit() and _is_ipv6(prefix):
            # "::1:8443" is an address, but it reads as ::1 with port 8443.
            raise _reject(
                f"This could be the IPv6 address {authority} or {prefix} with port {last}. "
                f"Write it in brackets: [{authority}] for the address, or [{prefix}]:{last} "
                "for the address with a port",
                value,
            )
        return authority, None
    host, colon, port = authority.partition(":")
    return host, _parse_port(port, value) if colon else None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _normalize_host(host: str, value: str) -> str:
    """Return the host in canonical form: an IP address, or a lower-case DNS name."""
    if not host:
        raise _reject("The host name is missing", value)
    if "%" in host:
        raise _reject("An IPv6 zone index (%…) cannot be used", value)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return f"[{address.compressed}]" if address.version == 6 else str(address)

    name = host.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise _reject(f"“{host}” is not a valid host name", value) from None
    labels = name.split(".")
    if len(name) > MAX_HOST_LENGTH or not all(HOST_LABEL.match(label) for label in labels):
        raise _reject(
            f"“{host}” is not a valid host name (letters, digits, hyphens and dots only)", value
        )
    if labels[-1].isdigit():
        raise _reject(f"“{host}” is not a valid IPv4 address", value)
    return name


def normalize_server(value: str) -> str:
    """Return ``value`` as ``https://host[:port]`` or raise ValidationError saying what is wrong.

    Accepts a host name, an IPv4 address or an IPv6 address (bracketed when a
    port follows), with an optional port and an optional ``https://`` prefix.
    Rejects every other scheme, credentials, paths, query strings and fragments.
    Port 443 is dropped because it is the https default.
    """
    value = value.strip()
    text = value
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() != "https":
            raise _reject(
                f"The scheme “{scheme}://” is not supported (Qualys needs https://)", value
            )
    else:
        # "http:host" is a scheme without slashes, not a host with a port.
        scheme, colon, after = text.partition(":")
        if colon and scheme.lower() in URL_SCHEMES and not after.isdigit():
            raise _reject(f"The scheme “{scheme}:” is not supported (Qualys needs https://)", value)
    if any(char.isspace() for char in text):
        raise _reject("Spaces are not allowed", value)

    authority, path_start, rest = _partition_authority(text)
    if path_start == "/" and rest:
        raise _reject(
            f"The path “/{rest}” is not allowed (the product adds API paths itself)", value
        )
    if path_start == "?":
        raise _reject("A query string (?…) is not allowed", value)
    if path_start == "#":
        raise _reject("A fragment (#…) is not allowed", value)
    if "@" in authority:
        raise _reject(
            "A user name or password in the address is not allowed (enter them in the "
            "Username and Password fields)",
            value,
        )

    host, port = _split_host_port(authority, value)
    host = _normalize_host(host, value)
    if port is None or port == 443:
        return f"https://{host}"
    return f"https://{host}:{port}"


def _partition_authority(text: str) -> tuple[str, str, str]:
    """Split at the first ``/``, ``?`` or ``#``: (authority, separator, remainder)."""
    match = re.search(r"[/?#]", text)
    if match is None:
        return text, "", ""
    index = match.start()
    rest = text[index + 1 :]
    if text[index] == "/" and rest and re.match(r"^[?#]", rest):
        # "host/?x" or "host/#x": report the query or fragment rather than an empty path.
        return text[:index], rest[0], rest[1:]
    return text[:index], text[index], rest


class SwitchInput(forms.CheckboxInput):
    """A checkbox drawn as an on/off switch; it stays a native checkbox for screen readers."""

    def __init__(self, attrs=None):
        attrs = {"class": "switch", "role": "switch", **(attrs or {})}
        super().__init__(attrs)


# Seconds a password typed into the settings form stays usable by its next submit.
ENTERED_PASSWORD_TTL = 3600


class QualysSettingsForm(forms.ModelForm):
    """Edits the single QualysSettings row.

    The password is never rendered back. A blank password keeps the stored
    one, except when the server changes: the stored password is only sent to
    the server it was saved for, so a new server needs the password again.

    A password typed into a form that comes back (Test connection, or an
    error in another field) travels in the hidden ``entered_password`` field
    as a Fernet token of the credentials key, valid for an hour. A later
    submit with the password field blank uses it, so testing a new password
    and then saving keeps the tested one.
    """

    polling_interval = forms.IntegerField(
        label="Polling interval (hours)",
        min_value=constants.MIN_POLLING_HOURS,
        max_value=constants.MAX_POLLING_HOURS,
        initial=constants.DEFAULT_POLLING_HOURS,
        help_text=(
            f"Hours between syncs, a whole number from {constants.MIN_POLLING_HOURS} to "
            f"{constants.MAX_POLLING_HOURS}. The default of {constants.DEFAULT_POLLING_HOURS} "
            "suits most subscriptions."
        ),
    )
    server = forms.CharField(
        label="Qualys API server",
        required=False,
        max_length=300,
        widget=forms.TextInput(
            attrs={"list": "qualys-platforms", "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=(
            "Choose your platform's API server from the list, or enter a host name or IP "
            f"address with an optional port, such as {SERVER_EXAMPLE}. Only https is used."
        ),
    )
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    entered_password = forms.CharField(required=False, widget=forms.HiddenInput)
    max_add_per_sync = forms.IntegerField(
        label="Auto-Subscribe limit per sync",
        required=False,
        min_value=0,
        help_text=(
            "The most addresses one sync may add to the subscription, a whole number. A sync "
            "with more to add adds none, writes nothing to Qualys, not even the asset group, "
            "and fails, so that a mistaken import cannot use up the Qualys licence. Empty or "
            "0: no limit."
        ),
    )
    page_size = forms.IntegerField(
        label="Host list page size",
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        initial=5000,
        help_text="Hosts per host-list call (truncation_limit), from 1 to 1,000,000.",
    )

    class Meta:
        model = QualysSettings
        fields = [
            "enabled",
            "polling_interval",
            "server",
            "username",
            "password",
            "auto_subscribe",
            "max_add_per_sync",
            "add_stale_hosts",
            "host_list_version",
            "page_size",
        ]
        widgets = {
            "enabled": SwitchInput(),
            "username": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }
        help_texts = {"auto_subscribe": AUTO_SUBSCRIBE_HELP}

    advanced_fields = ("host_list_version", "page_size")

    def __init__(self, *args, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_password = self.instance.password if self.instance.pk else ""
        self.stored_server = self.instance.server if self.instance.pk else ""
        if self.is_bound and self.data.get("password"):
            # Carried to the next submit of the form as it is shown again.
            self.data = self.data.copy()
            self.data["entered_password"] = (
                credentials_cipher().encrypt(self.data["password"].encode()).decode()
            )
        password = self.fields["password"]
        if self.is_bound and self.data.get("entered_password"):
            password.help_text = (
                "The password you entered is kept, encrypted, for this form for an hour. "
                "Leave this blank to use it, or enter another one."
            )
        elif is_unreadable(self.stored_password):
            password.help_text = (
                "The stored password cannot be decrypted with CREDENTIALS_KEY (the key changed "
                "or was lost): enter it again, or set CREDENTIALS_KEY to the key it was saved with."
            )
        elif self.stored_password:
            password.help_text = (
                "A password is stored. Leave this blank to keep it, or enter a new one."
            )
        else:
            password.help_text = "Required to enable the integration."
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def clean_server(self) -> str:
        value = self.cleaned_data["server"]
        return normalize_server(value) if value.strip() else ""

    def clean_max_add_per_sync(self) -> int:
        return self.cleaned_data["max_add_per_sync"] or 0

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip()

    def clean_password(self) -> str:
        # A blank field takes the password entered earlier in this form, if any.
        entered = self.cleaned_data["password"]
        if entered or not self.data.get("entered_password"):
            return entered
        try:
            return (
                credentials_cipher()
                .decrypt(self.data["entered_password"].encode(), ttl=ENTERED_PASSWORD_TTL)
                .decode()
            )
        except InvalidToken:
            raise ValidationError(
                "The password entered earlier in this form has expired. Enter it again."
            ) from None

    def password_to_use(self) -> str:
        """Return the password entered, or the stored one when the field is blank and allowed."""
        entered = self.cleaned_data.get("password", "")
        if entered:
            return entered
        if self.stored_password and self.cleaned_data.get("server") == self.stored_server:
            return self.stored_password
        return ""

    def clean(self):
        cleaned = super().clean()
        server = cleaned.get("server")
        password_entered = bool(cleaned.get("password"))
        server_changed = "server" in cleaned and server != self.stored_server

        if self.stored_password and not password_entered and server_changed and server:
            self.add_error(
                "password",
                "Enter the password again: the server changed, and the stored password is "
                "only sent to the server it was saved for.",
            )
            # The usual help text, to leave the field blank, contradicts this error.
            # A bound field copies its help text when first made, which the
            # page may have done already: both are set.
            text = "The stored password is for the previous server."
            self.fields["password"].help_text = text
            self["password"].help_text = text
        if cleaned.get("enabled"):
            if "server" in cleaned and not server:
                self.add_error("server", "Enter the Qualys API server to enable the integration.")
            if not cleaned.get("username"):
                self.add_error("username", "Enter the Qualys user name to enable the integration.")
            if not password_entered and not self.stored_password:
                self.add_error("password", "Enter the password to enable the integration.")
        return cleaned

    def save(self, commit: bool = True) -> QualysSettings:
        settings = super().save(commit=False)
        entered = self.cleaned_data.get("password")
        settings.password = entered if entered else self.stored_password
        if commit:
            settings.save()
        return settings
