"""Helpers shared by every test layer: fakes at the ports (:mod:`.fakes`), the daemon's
parts on the real store and simulator (:mod:`.harness`), real processes
(:mod:`.processes`, :mod:`.crash`, :mod:`.openadr`), databases and the machine's pace.
"""
