"""Benchmarks and the crash soak: measurements, not tests (bench/README.md).

A package so that each script imports ``bench._support`` and the test harness in
``tests.support`` as it runs: ``.venv/bin/python -m bench.<script>`` from the repository root.
"""
