"""Measurement library behind ``tools/benchmark.py``: official and mmcnclip
models of one architecture, interleaved timing, GEMM peak, peak memory,
end-to-end runs and result tables. Functions return data; the tool prints.
"""
from .memory import PeakMemory, peak_memory, proc_status_kb
from .table import format_table
from .timing import gemm_peak, interleaved, timed

__all__ = [
    'PeakMemory', 'peak_memory', 'proc_status_kb', 'format_table',
    'gemm_peak', 'interleaved', 'timed'
]
