"""Speed and memory measurements, run outside the test suite."""
