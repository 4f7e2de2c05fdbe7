"""patchlens: make the code review of mailing-list-driven projects visible."""

__version__ = "0.1.0"
