"""Crash and fault harness: the real ``drsched run`` killed with SIGKILL, under faults.

A scenario of 20 short events (:mod:`.scenario`) is driven in real time
(:mod:`.driver`) against the simulator on a real socket, while a seeded
schedule (:mod:`.chaos`) kills and restarts the daemon and, with faults on,
injects 5xx, timeouts, latency spikes, BECON token expiry and database
outages. :mod:`.checks` then compares the database with the simulator's own
records. ``tests/crash/test_crash.py`` runs a fixed-seed short version;
``bench/crash_soak.py`` runs many rounds.
"""
