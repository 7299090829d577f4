"""drsched's deterministic simulation: the whole daemon, time virtual, every outside party a fake.

``python -m tests.sim --seeds 1000`` runs worlds 0..999; ``--seed S`` replays
one with its trace. See docs/testing.md.
"""
