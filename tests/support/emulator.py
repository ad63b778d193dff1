"""The Qualys API emulator as a real HTTPS server on loopback (filled in with the emulator)."""
