"""Load benchmarks: the gateway against the same requests sent straight to the fake upstream."""
