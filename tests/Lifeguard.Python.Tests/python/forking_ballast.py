"""Imported by a fork server's template: 80 MiB that every forked worker shares copy-on-write until it writes them."""

BALLAST = b"x" * (80 * 1024 * 1024)
