"""Test configuration: the NumPy backend by default, and the CPU stand-in for CuPy.

``pytest --standin`` runs the *device subset* (the tests marked ``device``: the core API tests
and every quick-profile check, without its negative controls) through
``RNNPROOF_BACKEND=cupy`` with ``tests/fakecupy`` standing in for CuPy, in float64 unless
``RNNPROOF_DTYPE`` says otherwise. On a machine with a GPU, ``pytest -m device`` runs the same
subset on the real CuPy (``RNNPROOF_BACKEND=cupy``).

The ``standin`` fixture makes the stand-in the active backend for one test on any machine (so
the device path is tested by every plain ``pytest`` run too); it yields the stand-in module,
whose ``counting()`` counts host synchronizations.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

os.environ.setdefault("RNNPROOF_BACKEND", "numpy")

STANDIN_DIR = Path(__file__).resolve().parent / "fakecupy"

#: test files whose tests all belong to the device subset (the core API and the stand-in)
DEVICE_FILES = {"test_backend.py", "test_rnn.py", "test_device.py", "test_standin.py"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--standin", action="store_true", default=False,
                     help="run the device subset (-m device) on RNNPROOF_BACKEND=cupy with the "
                          "CPU stand-in for CuPy (tests/fakecupy)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "device: the device subset (core API tests and the quick-profile checks), "
                   "run on CuPy or its CPU stand-in")
    if config.getoption("--standin"):
        _swap_in(_standin_modules())
        os.environ["RNNPROOF_BACKEND"] = "cupy"
        os.environ.setdefault("RNNPROOF_DTYPE", "float64")
        os.environ.setdefault("RNNPROOF_PROFILE", "quick")
        from rnnproof import backend  # noqa: PLC0415

        backend.reset()
        if not getattr(backend.xp(), "STANDIN", False):
            raise pytest.UsageError("--standin: the CuPy backend did not pick up the stand-in")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = item.path.name
        in_subset = name in DEVICE_FILES or (
            name == "test_checks.py" and item.name.startswith("test_check[")
            and "control=" not in item.name)
        if in_subset:
            item.add_marker(pytest.mark.device)
    if config.getoption("--standin") and not config.getoption("-m"):
        keep = [it for it in items if it.get_closest_marker("device")]
        config.hook.pytest_deselected(items=[it for it in items if it not in keep])
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str:
    from rnnproof import backend  # noqa: PLC0415

    return f"rnnproof backend: {backend.device_description()}"


# ------------------------------------------------------------------------------------------
# The stand-in as a module named ``cupy``
# ------------------------------------------------------------------------------------------

_CACHE: dict[str, ModuleType] = {}


def _cupy_entries() -> dict[str, ModuleType]:
    return {k: v for k, v in sys.modules.items() if k == "cupy" or k.startswith("cupy.")}


def _swap_in(mods: dict[str, ModuleType]) -> dict[str, ModuleType]:
    """Put ``mods`` in sys.modules in place of whatever ``cupy*`` is there; return the old."""
    saved = _cupy_entries()
    for k in saved:
        del sys.modules[k]
    sys.modules.update(mods)
    return saved


def _standin_modules() -> dict[str, ModuleType]:
    """The stand-in loaded once under the name ``cupy`` (with its submodules), without
    disturbing a real CuPy that may be imported too."""
    if not _CACHE and getattr(sys.modules.get("cupy"), "STANDIN", False):
        _CACHE.update(_cupy_entries())  # already imported as cupy (PYTHONPATH): the same copy
    if not _CACHE:
        saved = _swap_in({})
        try:
            spec = importlib.util.spec_from_file_location(
                "cupy", STANDIN_DIR / "cupy" / "__init__.py",
                submodule_search_locations=[str(STANDIN_DIR / "cupy")])
            mod = importlib.util.module_from_spec(spec)
            sys.modules["cupy"] = mod
            spec.loader.exec_module(mod)
            _CACHE.update(_cupy_entries())
        finally:
            _swap_in(saved)
    return dict(_CACHE)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CPU stand-in for CuPy as the active backend for this test (dtype: the backend
    default, float32, unless RNNPROOF_DTYPE is set); yields the stand-in module."""
    from rnnproof import backend  # noqa: PLC0415

    mods = _standin_modules()
    if backend.name() == "cupy" and getattr(backend.xp(), "STANDIN", False):
        yield backend.xp()
        return
    saved = _swap_in(mods)
    monkeypatch.setenv("RNNPROOF_BACKEND", "cupy")
    backend.reset()
    try:
        yield mods["cupy"]
    finally:
        _swap_in(saved)
        backend.reset()
