"""The base of the app's four screens: typed access to the app that owns the state they show."""

from __future__ import annotations

from typing import cast

from textual.screen import Screen

from tui.app_state import AppState
from tui.request_form import Choices


class BatchfitScreen(Screen[None]):
    @property
    def state(self) -> AppState:
        """The app's state (request, report, catalog, plan) that every screen reads."""
        return cast(AppState, self.app)

    def choices(self) -> Choices:
        """The names the app knows now (presets, providers, regions) for checking what the user typed."""
        catalog = self.state.catalog
        offers = catalog.offers if catalog is not None else []
        return Choices(presets=self.state.presets, providers={o.provider for o in offers},
                       regions={o.region for o in offers})
