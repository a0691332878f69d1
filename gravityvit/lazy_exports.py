"""Names of a package imported on first use (PEP 562), so importing the package stays light.

A package lists its public names in a table, one line per submodule (:func:`export_table`), and
takes its module ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def export_table(table: str) -> dict[str, str]:
    """Parse a table of public names into ``{name: submodule}``.

    Each line is ``submodule: Name other_name ...``; a submodule may take several lines, and ``#``
    starts a comment::

        hdf5: GravitySpyDataError read_metadata_csv  # the Zenodo layout
        png: GravitySpyPNGReader

    Raises:
        ValueError: a line without ``submodule:``, or a name listed twice (it would be ambiguous
            which submodule defines it).
    """
    exports: dict[str, str] = {}
    for line in table.splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        module_name, colon, names = entry.partition(":")
        module_name = module_name.strip()
        if not colon or not module_name.isidentifier():
            raise ValueError(f"export table line {line.strip()!r}: expected 'submodule: Name ...'")
        for name in names.split():
            if name in exports:
                raise ValueError(f"export table: {name} is listed under {exports[name]} and {module_name}")
            exports[name] = module_name
    return exports


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module ``__getattr__`` and ``__dir__`` of ``package`` for ``exports`` (name -> submodule).

    A name is imported from ``package.<submodule>`` when first used, then cached in ``namespace``
    (the package's ``globals()``).
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_name}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
