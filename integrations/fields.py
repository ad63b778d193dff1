"""A model field that encrypts its text at rest with Fernet (AES-128-CBC + HMAC)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


def credentials_cipher() -> MultiFernet:
    """Return the cipher built from ``settings.CREDENTIALS_KEYS`` (first key encrypts)."""
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.CREDENTIALS_KEYS])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes). "
            "Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from error


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; the database never contains the plain value.

    An empty value is stored as an empty string. A stored value that no
    configured key can decrypt reads back as empty, so a lost key means
    re-entering the secret rather than a page that fails to load.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        token = credentials_cipher().encrypt(value.encode()).decode()
        return PREFIX + token

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        if not value.startswith(PREFIX):
            return ""
        decrypted = decrypt_token(value)
        return UnreadableSecret() if decrypted is None else decrypted

    def value_to_string(self, obj) -> str:
        # Serializers (dumpdata) write the ciphertext, never the plain value.
        return self.get_prep_value(self.value_from_object(obj)) or ""

    def to_python(self, value):
        # Deserializers (loaddata) pass the ciphertext that value_to_string wrote.
        # A value that no configured key decrypts is taken as plain text.
        value = super().to_python(value)
        if isinstance(value, str) and value.startswith(PREFIX):
            decrypted = decrypt_token(value)
            if decrypted is not None:
                return decrypted
        return value


class UnreadableSecret(str):
    """An empty value that stands for a stored secret no configured key decrypts.

    It is empty wherever a value is used, so nothing is sent with it, and
    ``unreadable`` lets a message name the cause of the missing secret.
    """

    unreadable = True

    def __new__(cls):
        return super().__new__(cls, "")


def is_unreadable(value: object) -> bool:
    """Return whether ``value`` is a stored secret that no configured key decrypts."""
    return getattr(value, "unreadable", False)


def decrypt_token(value: str) -> str | None:
    """Return the plain text of a stored ``fernet:`` value, or None if no key decrypts it."""
    try:
        return credentials_cipher().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        return None
