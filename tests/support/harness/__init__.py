"""The daemon's parts assembled for a test: on the fakes, or on the real store and simulator."""
