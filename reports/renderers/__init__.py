"""Snapshot → PDF. `render(snapshot)` picks the renderer for the snapshot's kind."""

from .base import RENDERER_VERSION, ReportRenderer
from .donor_summary import DonorSummaryRenderer
from .output_statement import OutputStatementRenderer
from .portfolio import PortfolioRenderer

__all__ = ["RENDERERS", "RENDERER_VERSION", "render"]

RENDERERS: dict[str, type[ReportRenderer]] = {
    "donor_summary": DonorSummaryRenderer,
    "portfolio": PortfolioRenderer,
    "output_statement": OutputStatementRenderer,
}


def render(snapshot: dict) -> bytes:
    return RENDERERS[snapshot["kind"]]().render(snapshot)
