"""XLA compiler options of the library's own compiled forecasts.

Forecasting is a chain of small, elementwise-heavy LSTM steps. Letting XLA:CPU use 512-bit
vectors where the CPU has them made forecasts 15-25% faster (``python -m benchmarks.run``,
prediction section); training gained under 5%, so it keeps XLA's defaults. The option is
a hint: CPUs without 512-bit vectors and other backends ignore it.
"""

from __future__ import annotations

FORECAST_COMPILER_OPTIONS: dict[str, int] = {"xla_cpu_prefer_vector_width": 512}
