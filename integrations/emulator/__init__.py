"""A local emulator of the part of the Qualys VM API v2 that this product calls.

It is an HTTPS server on loopback that answers every call from a JSON state
file: the subscription's IP list, the scanned hosts, asset groups, IPv6
mapping records, per-endpoint rate and concurrency limits, and injected
faults. ``python manage.py qualys_emulator`` runs it; ``docs/emulator.md``
describes the command, the state keys and the fault schema.

The emulator writes its XML itself and shares no parsing or XML-writing code
with the client package ``integrations.qualys``, so a mistake in one cannot
hide a mistake in the other. It never touches the database.
"""
