"""Build-time tools run from the repository root; not installed, not part of the service."""
