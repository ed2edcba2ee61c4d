"""Integration tests: a real Docker 20.10 daemon with its embedded BuildKit, on this machine only."""
