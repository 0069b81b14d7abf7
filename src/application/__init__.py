"""Use cases and the ports (Protocols) they need; no I/O library is imported here."""
