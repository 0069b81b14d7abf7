"""Entry points: settings, the composition root (containers), CLI and HTTP endpoints."""
