"""Snapshot → PDF. `render(snapshot)` picks the renderer for the snapshot's kind."""

from .base import RENDERER_VERSION, ReportRenderer
from .donor_summary import DonorSummaryRenderer
from .financial_report import FinancialReportRenderer
from .output_statement import OutputStatementRenderer
from .portfolio import PortfolioRenderer

__all__ = ["RENDERERS", "RENDERER_VERSION", "render"]

RENDERERS: dict[str, type[ReportRenderer]] = {
    "donor_summary": DonorSummaryRenderer,
    "portfolio": PortfolioRenderer,
    "output_statement": OutputStatementRenderer,
    "financial_report": FinancialReportRenderer,
}


def render(snapshot: dict) -> bytes:
    return RENDERERS[snapshot["kind"]]().render(snapshot)
