"""`revati report`: what a run did, in figures (durations, device busy time, serving metrics)."""

from revati.report.metrics import serving_metrics
from revati.report.summary import format_text, summarize

__all__ = ["format_text", "serving_metrics", "summarize"]
