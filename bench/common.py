"""Helpers shared by the bench scripts: the CPU's name, and a ratio shown with its rounds.

The scripts run as `python bench/x.py`; Python then puts bench/ first on sys.path, so
`from common import cpu_name` finds this file.
"""
from __future__ import annotations

import platform
import statistics


def cpu_name() -> str:
    """The CPU's model name: what `lscpu` shows on its "Model name" line. Read from the "model name"
    field of /proc/cpuinfo (Linux), which needs no external program; elsewhere from
    platform.processor(), which may only name the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or "CPU"


def median_and_rounds(values) -> str:
    """Ratios formatted as `1.23x (1.20, 1.23, 1.30)`: their median, then every round's ratio in the
    order the rounds ran, so that a reader sees how far the median can be trusted."""
    values = list(values)
    return f"{statistics.median(values):.2f}x ({', '.join(f'{v:.2f}' for v in values)})"
