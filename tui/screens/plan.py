"""Plan: limits that re-plan as they are typed, the recommendation in one line, and three views of the candidates."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import (
    Checkbox,
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
)

from planner.contracts.plan import Candidate, Plan
from planner.view import hours_text, money, policy_title
from tui.candidate_rows import RECOMMENDED, RowFilter, lr_text, short_gpu
from tui.screens.base import BatchfitScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.limits_bar import LimitsBar
from tui.widgets.plan_explanation import PlanExplanation
from tui.widgets.xy_plot import Guide, Series, XYPlot

FILTER_DEBOUNCE_S = 0.05
"""Typing in the filter re-filters once the keys pause this long (s): 5,000 rows need not be matched per key."""


def headline(plan: Plan) -> Content:
    """The recommendation in one line, or the first reason nothing fits."""
    rec = plan.recommendation
    if rec is None:
        reason = plan.infeasible[0] if plan.infeasible else "no candidate"
        return Content.assemble(("Nothing meets the limits: ", "bold $text-error"), reason)
    c = plan.candidate(rec.candidate_id)
    return Content.assemble(
        (f"{RECOMMENDED} ", "$text-success"),
        (f"{c.provider} {c.instance}{' spot' if c.market == 'spot' else ''}", "bold"),
        f" {c.nodes} nodes ×" * (c.nodes > 1) + f" {c.gpu_count}×{short_gpu(c.gpu)} · batch {c.global_batch} · lr {lr_text(c.lr.lr)} · "
        f"{hours_text(c.hours)} h · {money(c.cost_usd)}",
        (f"  {policy_title(rec.policy, plan.request).lower()}"
         + (f", bound by the {rec.bound_by}" if rec.bound_by != "none" else ""), "$text-muted"),
    )


def in_view(c: Candidate, plan: Plan) -> bool:
    """The zoomed chart's region: what meets both limits, and the frontier."""
    return (c.meets_deadline and c.meets_budget) or c.id in plan.pareto


def frontier_series(plan: Plan, *, everything: bool = False, selected: Candidate | None = None) -> list[Series]:
    """Candidates (only those meeting the limits unless `everything`), the frontier joined, the recommendation,
    and the table's selection on top."""
    by_id = {c.id: c for c in plan.candidates}
    shown = [c for c in plan.candidates if everything or in_view(c, plan)]
    series = [
        Series("candidate" if everything else "meets the limits", [(c.hours, c.cost_usd) for c in shown], "◦",
               "muted"),
        Series("Pareto frontier", [(by_id[i].hours, by_id[i].cost_usd) for i in plan.pareto], "◆", "primary",
               joined=True),
    ]
    if plan.recommendation is not None:
        c = by_id[plan.recommendation.candidate_id]
        series.append(Series("recommended", [(c.hours, c.cost_usd)], RECOMMENDED, "highlight"))
    if selected is not None and (everything or in_view(selected, plan)):
        series.append(Series("selected", [(selected.hours, selected.cost_usd)], "⊕", "cursor"))
    return series


def limit_guides(plan: Plan) -> list[Guide]:
    request = plan.request
    guides = []
    if request.deadline_hours is not None:
        guides.append(Guide("deadline", "x", request.deadline_hours))
    if request.budget_usd is not None:
        guides.append(Guide("budget", "y", request.budget_usd))
    return guides


class PlanScreen(BatchfitScreen):
    AUTO_FOCUS = "#candidates"
    BINDINGS = [
        Binding("ctrl+e", "app.export", "Export"),
        Binding("z", "toggle_zoom", "Zoom", tooltip="the chart: zoomed to the limits, or every candidate"),
        Binding("slash", "focus_filter", "Filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="plan")
        self.chosen_id: int | None = None
        self.selected: Candidate | None = None
        self.everything = False
        self.stale = False
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield LimitsBar(id="limits")
        yield Static("", id="plan-headline")
        with TabbedContent(id="plan-tabs"):
            with TabPane("Candidates", id="tab-candidates"):
                with Horizontal(id="table-filter"):
                    yield Input(placeholder="/ filter: aws h100 spot us-east ...", compact=True, id="filter-query")
                    yield Checkbox("meets limits", compact=True, id="filter-feasible")
                    yield Checkbox("frontier", compact=True, id="filter-frontier")
                    yield Static("", id="filter-count")
                yield CandidateTable(id="candidates")
            with TabPane("Hours vs $", id="tab-chart"):
                yield XYPlot(x_title="hours", y_title="USD", x_log=True, y_log=True, id="frontier-plot",
                             empty_text="no candidates to plot")
            with TabPane("Why", id="tab-why"), VerticalScroll(id="why-scroll"):
                yield PlanExplanation(id="explanation")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Plan"
        self.watch(self.app, "plan", self._show_plan)
        self.watch(self.app, "request", self._show_request)
        self.watch(self.app, "catalog", self._show_request)
        self.watch(self.app, "plan_problem", self._show_problem)

    def _show_request(self, _changed: object) -> None:
        self.query_one(LimitsBar).show(self.state.request, self.choices())

    def _show_problem(self, problem: str) -> None:
        if problem:
            self.query_one("#plan-headline", Static).update(Content.assemble((problem, "$text-warning")))

    def _show_plan(self, plan: Plan | None) -> None:
        self.query_one(CandidateTable).show(plan)
        self._count()
        if plan is None:
            self.query_one(XYPlot).plot()
            self.query_one(PlanExplanation).show(None, None, None, self.state.today())
            return
        if self.chosen_id is not None and all(c.id != self.chosen_id for c in plan.candidates):
            self.chosen_id = None
        self._headline()
        self._refresh_tab()

    @on(TabbedContent.TabActivated)
    def _refresh_tab(self) -> None:
        """Draw only the pane in view: the chart and the Why text are redrawn when their tab opens."""
        active = self.query_one(TabbedContent).active
        if active == "tab-chart":
            self._chart()
        elif active == "tab-why":
            self._explain()

    def _headline(self) -> None:
        plan = self.state.plan
        if plan is None:
            return
        line = headline(plan)
        if self.stale:
            line = Content.assemble(("STALE ", "bold reverse $text-warning"),
                                    ("a limit above is not valid; this plan is for the last valid ones · ",
                                     "$text-warning"), line)
        self.query_one("#plan-headline", Static).update(line)
        self.query_one("#plan-tabs").set_class(self.stale, "-stale")

    def _chart(self) -> None:
        plan = self.state.plan
        if plan is not None and self.query_one(TabbedContent).active == "tab-chart":
            self.query_one(XYPlot).plot(*frontier_series(plan, everything=self.everything, selected=self.selected),
                                        guides=limit_guides(plan))

    def _explain(self) -> None:
        if self.query_one(TabbedContent).active != "tab-why":
            return
        self.query_one(PlanExplanation).show(self.state.plan, self.chosen_id, self.state.catalog, self.state.today())

    def on_limits_bar_validity(self, event: LimitsBar.Validity) -> None:
        self.stale = not event.valid
        self._headline()

    def action_toggle_zoom(self) -> None:
        self.everything = not self.everything
        self._chart()
        self.notify("the chart shows every candidate" if self.everything
                    else "the chart shows what meets the limits, and the frontier")

    def action_focus_filter(self) -> None:
        self.query_one(TabbedContent).active = "tab-candidates"
        self.query_one("#filter-query", Input).focus()

    @on(Input.Changed, "#filter-query")
    def _typed_filter(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE_S, self._filter)

    @on(Input.Submitted, "#filter-query")
    def _submitted_filter(self) -> None:
        self._filter()
        self.query_one(CandidateTable).focus()

    @on(Checkbox.Changed, "#filter-feasible, #filter-frontier")
    def _filter(self) -> None:
        self.query_one(CandidateTable).filter_rows(RowFilter(
            query=self.query_one("#filter-query", Input).value,
            feasible_only=self.query_one("#filter-feasible", Checkbox).value,
            frontier_only=self.query_one("#filter-frontier", Checkbox).value,
        ))
        self._count()

    def _count(self) -> None:
        """Rows shown of candidates listed; a grouped row stands for each of its regions."""
        plan = self.state.plan
        listed = len(plan.candidates) if plan is not None else 0
        table = self.query_one(CandidateTable)
        kept = sum(len(r.group.members) for r in table.rows if not r.detail)
        self.query_one("#filter-count", Static).update(f"{table.row_count} rows · {kept}/{listed}")

    def on_candidate_table_candidate_highlighted(self, event: CandidateTable.CandidateHighlighted) -> None:
        plan = self.state.plan
        self.selected = plan.candidate(event.candidate_id) if plan is not None and event.candidate_id is not None \
            else None
        self._chart()

    def on_candidate_table_candidate_chosen(self, event: CandidateTable.CandidateChosen) -> None:
        self.chosen_id = event.candidate_id
        self.query_one(TabbedContent).active = "tab-why"
        self._explain()
