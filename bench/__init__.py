"""Benchmarks of realtime_ser: feature throughput (`python -m bench.features`) and
openSMILE parity (`python -m bench.parity`). Results go to bench/results/ (git-ignored)."""
