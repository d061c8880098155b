"""Focus and keys: what has focus at start, help, quit, the filter key, the footer; the form's manners; memory."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Footer, Input, Static
from tui_fixtures import AppFactory, make_report, make_request

from tui.app import BatchfitApp
from tui.screens.help import HelpScreen
from tui.screens.plan import PlanScreen
from tui.widgets.form_row import FormRow


def error_beside(app: BatchfitApp, field_id: str) -> str:
    row = app.screen.query_one(f"#row-{field_id}", FormRow)
    return str(row.query_one(".form-row--error", Static).content)


async def test_the_model_has_focus_at_start_so_the_first_keys_land_there(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one("#model", Input)
        await pilot.press(*"mlp")
        assert app.screen.query_one("#model", Input).value == "mlp"


async def test_untouched_fields_are_not_flagged_until_edited_or_submitted(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        assert all(not row.error for row in app.screen.query(FormRow))
        assert "fields to fix" in str(app.screen.query_one("#setup-status", Static).content)
        app.screen.query_one("#ref_lr", Input).value = "fast"
        await pilot.pause()
        assert error_beside(app, "ref_lr") == "not a number" and error_beside(app, "amount") == ""
        app.screen.query_one("#model", Input).focus()
        await pilot.press("enter")  # asking for the request shows every field to fix
        assert error_beside(app, "amount") == "required"


async def test_the_users_notation_is_kept(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        app.screen.query_one("#amount", Input).value = "2e6"
        await pilot.pause()
        await pilot.press("f3")
        app.screen.query_one("#limit-budget", Input).value = "25"
        await pilot.pause(0.15)
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert app.request.budget_usd == 25
        assert app.screen.query_one("#amount", Input).value == "2e6"
        assert app.screen.query_one("#budget", Input).value == "25"


async def test_question_mark_opens_help_and_escape_closes_it(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).content)
        for needle in ("★", "◆", "Due", "Bgt", "ctrl+e", "F1 F2 F3 F4", "space"):
            assert needle in text
        await pilot.press("escape")
        assert isinstance(app.screen, PlanScreen)
        app.screen.query_one("#filter-query", Input).focus()
        await pilot.press("question_mark")  # in a text field it is a character
        assert not isinstance(app.screen, HelpScreen)
        assert app.screen.query_one("#filter-query", Input).value == "?"


async def test_q_quits_outside_text_fields_only(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#filter-query", Input).focus()
        await pilot.press("q")
        assert app.is_running and app.screen.query_one("#filter-query", Input).value == "q"
        app.screen.query_one("#candidates").focus()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_slash_focuses_the_filter(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused is app.screen.query_one("#candidates")
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter-query", Input)


async def test_the_footer_shows_the_screen_keys_at_80_columns(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("f1", "f2", "f3", "f4"):
            await pilot.press(key)
            await pilot.pause()
            footer = app.screen.query_one(Footer)
            for _ in range(40):  # the footer composes its keys after a refresh
                await pilot.pause(0.05)
                if footer.query("FooterKey") and all(k.region.width for k in footer.query("FooterKey")):
                    break
            keys = [k for k in footer.query("FooterKey") if k.region.right <= 80 and k.region.width > 0]
            shown = {k.key for k in keys}  # type: ignore[attr-defined]
            assert {"f1", "f2", "f3", "f4"} <= shown, (key, shown)
            if not isinstance(app.focused, Input):  # in a text field ? and q are characters, and not offered
                assert {"question_mark", "q"} <= shown, (key, shown)


async def test_the_last_request_and_report_come_back_at_the_next_launch(make_app: AppFactory,
                                                                        tmp_path: Path) -> None:
    first = make_app(state_dir=tmp_path)
    async with first.run_test(size=(80, 24)) as pilot:
        from tui.messages import ReportReady, RequestEdited

        first.post_message(RequestEdited(make_request(budget_usd=12.0)))
        first.post_message(ReportReady(make_report(), "file"))
        await pilot.pause()
    again = make_app(state_dir=tmp_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.request == make_request(budget_usd=12.0) and again.report == make_report()
        assert isinstance(again.screen, PlanScreen)
    (tmp_path / "last-probe.json").write_text("{broken")
    third = make_app(state_dir=tmp_path)
    async with third.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert third.report is None and third.request == make_request(budget_usd=12.0)
        assert any("was not restored" in n.message for n in third._notifications)
