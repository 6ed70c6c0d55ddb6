"""`revati diff`: align two runs by (rank, stream, sequence number) and compare them."""

from revati.diff.align import sequences
from revati.diff.compare import compare_runs, format_text

__all__ = ["compare_runs", "format_text", "sequences"]
