"""patchlens: make the code review of mailing-list-driven projects visible.

`patchlens.open(db)` opens a store for reading from Python (see patchlens/api.py and
docs/PYTHON_API.md). The read API is imported on first use of one of its names, so that
`import patchlens` (which every CLI start does) stays cheap."""

__version__ = "0.1.0"

# The names the read API lends to the package: `patchlens.open`, `patchlens.Store`, ...
_API = ("open", "Store", "FilterError")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:  # no `typing` import: it would cost every start
    if name in _API:
        from patchlens import api

        return getattr(api, name)
    raise AttributeError(f"module 'patchlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
