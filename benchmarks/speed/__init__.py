"""The speed benchmark's pieces; ``python -m benchmarks.run`` runs them.

One module per section (``train``, ``predict``, ``cold_start``, ``scaling``, ``profile``),
each ``bench_<section>(settings, state) -> dict`` with its calls into jaxlstm gathered at
its top; ``library`` holds the calls several sections share. ``settings`` has the sizes,
``common`` the harness helpers, and ``targets``, ``markdown`` and ``plots`` turn the
results into the report.
"""
