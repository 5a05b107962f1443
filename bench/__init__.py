"""`make bench`: the site under load, measured against the upstream called directly (see docs/benchmark.md)."""
