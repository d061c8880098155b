"""Fixtures for the app's tests (the builders live in tui_fixtures), and async tests without a plugin."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from tui_fixtures import NOW, PRESETS, AppFactory, Recorder, ScriptedProbe, make_catalog

from tui.app import BatchfitApp


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop: Pilot tests are coroutines, and no asyncio plugin is installed."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in inspect.signature(pyfuncitem.obj).parameters}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_app() -> AppFactory:
    def factory(**kwargs: object) -> BatchfitApp:
        options: dict[str, object] = {"catalog": make_catalog(), "presets": PRESETS, "clock": lambda: NOW,
                                      "probe_runner": ScriptedProbe()}
        options.update(kwargs)
        return BatchfitApp(**options)  # type: ignore[arg-type]

    return factory
