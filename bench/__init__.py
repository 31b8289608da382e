"""On-demand speed benchmarks for Relais (see docs/benchmarks.md and ../shared/targets.md).

Nothing here runs in the normal test suite: timings on shared machines are noisy, so every
benchmark measures a baseline in the same run and reports a ratio beside the absolute figure.
"""
