"""Optional extras that two libraries import eagerly and drsched never uses, left out (issue 14).

- ``structlog`` imports ``rich`` (and with it ``attrs`` and ``pygments``: about 0.05 s of
  every daemon start) whenever it is installed, for rich tracebacks in its console renderer
  and rich reprs of frame locals in dict tracebacks. drsched uses neither: both of its
  renderers print tracebacks as plain text, without frame locals, since a local may hold a
  token (:mod:`scheduler.logging`). Without rich, structlog's own defaults are plain too.
- ``httpx`` imports its command-line client (``httpx._main``: click, rich, pygments) whenever
  those are installed. The ``httpx`` command is a process of its own; a library import
  never needs it.

:func:`install` puts a finder first on ``sys.meta_path``. When one of these libraries is
imported (only then: ``drsched plan validate`` imports neither), its ``__init__`` runs while
its extras are unimportable (``None`` in ``sys.modules``, so its ``try: import rich``
takes the "not installed" branch); afterwards they are importable again, so drsched's own
rich output (``drsched demo``, progress tables) is unchanged.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

#: Library -> the optional modules its import should not pull in.
UNUSED: dict[str, tuple[str, ...]] = {
    "structlog": ("rich",),
    "httpx": ("httpx._main",),
}


class _Without:
    """Runs the library's own loader with its unused extras unimportable (a loader in the
    protocol's sense; ``importlib.abc`` itself is not imported: it costs milliseconds)."""

    def __init__(self, loader: Loader, extras: Sequence[str]) -> None:
        self._loader = loader
        self._extras = extras

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        hidden = [name for name in self._extras if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # "not installed", to import
        try:
            self._loader.exec_module(module)
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
            if module.__spec__ is not None:  # the module keeps its own loader
                module.__spec__.loader = self._loader
            module.__loader__ = self._loader


class _LeaveOut:
    """Finds the libraries of :data:`UNUSED` as the path finder does, with :class:`_Without`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        extras = UNUSED.get(fullname)
        if extras is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = cast("Loader", _Without(spec.loader, extras))
        return spec


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _LeaveOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeaveOut())
