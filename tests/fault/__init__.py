"""Fault injection (issue 8): real processes on 127.0.0.1 crashed, cut off and skewed on purpose.

Each test here records its size and figures through `tests.fault.results`, so
`python -m tests.fault.report` can publish them in docs/reliability.md.
"""
