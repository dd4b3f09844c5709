"""Speed benchmarks for jaxlstm: ``python -m benchmarks.run [--quick] [--out DIR]``.

See ``benchmarks/README.md`` for what each measurement means.
"""
