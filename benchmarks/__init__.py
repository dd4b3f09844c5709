"""Benchmarks for jaxlstm: ``python -m benchmarks.run`` (speed, pieces in ``benchmarks.speed``) and ``python -m benchmarks.accuracy``.

See ``benchmarks/README.md`` for what each measurement means.
"""
