"""XLA compiler options of the library's own compiled functions (training and forecasts).

An LSTM step is a chain of small, elementwise-heavy operations. Letting XLA:CPU use 512-bit
vectors where the CPU has them made forecasts 15-25% and training about 5% faster
(``python -m benchmarks.run``: prediction rows, and the profile's ``vector_width_512``
variant). The option is a hint: CPUs without 512-bit vectors and other backends ignore
it. Users who jit the functional API themselves can pass the same dict:
``jax.jit(f, compiler_options=jaxlstm.COMPILER_OPTIONS)``.
"""

from __future__ import annotations

#: XLA options the library compiles its functions with; pass them to your own ``jax.jit``.
COMPILER_OPTIONS: dict[str, int] = {"xla_cpu_prefer_vector_width": 512}
