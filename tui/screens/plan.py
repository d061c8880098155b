"""Plan: limits that re-plan at once, the recommendation in one line, and three views of the candidates."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Checkbox, Footer, Header, Input, Static, TabbedContent, TabPane

from planner.contracts.plan import Plan
from planner.view import hours_text, money, policy_title
from tui.candidate_rows import RECOMMENDED, RowFilter, lr_text, short_gpu
from tui.screens.base import BatchfitScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.limits_bar import LimitsBar
from tui.widgets.plan_explanation import PlanExplanation
from tui.widgets.xy_plot import Guide, Series, XYPlot


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
        f" {c.gpu_count}×{short_gpu(c.gpu)} · batch {c.global_batch} · lr {lr_text(c.lr.lr)} · "
        f"{hours_text(c.hours)} h · {money(c.cost_usd)}",
        (f"  {policy_title(rec.policy, plan.request).lower()}"
         + (f", bound by the {rec.bound_by}" if rec.bound_by != "none" else ""), "$text-muted"),
    )


def frontier_series(plan: Plan) -> list[Series]:
    """Every candidate, the Pareto frontier joined, the recommendation on top."""
    by_id = {c.id: c for c in plan.candidates}
    series = [
        Series("candidate", [(c.hours, c.cost_usd) for c in plan.candidates], "◦", "muted"),
        Series("Pareto frontier", [(by_id[i].hours, by_id[i].cost_usd) for i in plan.pareto], "◆", "primary",
               joined=True),
    ]
    if plan.recommendation is not None:
        c = by_id[plan.recommendation.candidate_id]
        series.append(Series("recommended", [(c.hours, c.cost_usd)], RECOMMENDED, "highlight"))
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
        Binding("ctrl+s", "app.export('json')", "Export JSON"),
        Binding("ctrl+r", "app.export('md')", "Export MD"),
    ]

    def __init__(self) -> None:
        super().__init__(id="plan")
        self.chosen_id: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield LimitsBar(id="limits")
        yield Static("", id="plan-headline")
        with TabbedContent(id="plan-tabs"):
            with TabPane("Candidates", id="tab-candidates"):
                with Horizontal(id="table-filter"):
                    yield Input(placeholder="filter: aws h100 spot ...", compact=True, id="filter-query")
                    yield Checkbox("meets limits", compact=True, id="filter-feasible")
                    yield Checkbox("frontier", compact=True, id="filter-frontier")
                    yield Static("", id="filter-count")
                yield CandidateTable(id="candidates")
            with TabPane("Hours vs $", id="tab-chart"):
                yield XYPlot(x_title="hours, y: USD (log)", x_log=True, y_log=True,
                             id="frontier-plot", empty_text="no candidates to plot")
            with TabPane("Why", id="tab-why"):
                with VerticalScroll(id="why-scroll"):
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
        plot = self.query_one(XYPlot)
        if plan is None:
            plot.plot()
            self.query_one(PlanExplanation).show(None, None, None, self.state.today())
            return
        if self.chosen_id is not None and all(c.id != self.chosen_id for c in plan.candidates):
            self.chosen_id = None
        self.query_one("#plan-headline", Static).update(headline(plan))
        plot.plot(*frontier_series(plan), guides=limit_guides(plan))
        self._explain()

    def _explain(self) -> None:
        self.query_one(PlanExplanation).show(self.state.plan, self.chosen_id, self.state.catalog, self.state.today())

    @on(Input.Changed, "#filter-query")
    @on(Checkbox.Changed, "#filter-feasible, #filter-frontier")
    def _filter(self) -> None:
        self.query_one(CandidateTable).filter_rows(RowFilter(
            query=self.query_one("#filter-query", Input).value,
            feasible_only=self.query_one("#filter-feasible", Checkbox).value,
            frontier_only=self.query_one("#filter-frontier", Checkbox).value,
        ))
        self._count()

    def _count(self) -> None:
        """Rows shown of rows listed; the Why tab says how the plan chose what to list."""
        plan = self.state.plan
        listed = len(plan.candidates) if plan is not None else 0
        self.query_one("#filter-count", Static).update(f"{self.query_one(CandidateTable).row_count}/{listed}")

    def on_candidate_table_candidate_chosen(self, event: CandidateTable.CandidateChosen) -> None:
        self.chosen_id = event.candidate_id
        self._explain()
        self.query_one(TabbedContent).active = "tab-why"
