"""HVAC control during an active window (DESIGN.md "HVAC control during an active window").

The controller (:mod:`.controller`) is the engine's ``HvacControl``: it reads
facility states before a window (``prepare``), sends only batched PUTs at its
start (``start``), reads the states back every ``hvac.verify_interval`` and
puts the original setpoints back after it (``stop``), spread over
``hvac.restore_stagger``. Every facility it touches is a row in the store
(:class:`.records.ControlRecord`): the original setpoint and the intent are
written before a PUT, the outcome after, so a restart (``reconcile``) knows
what is still at a DR setpoint.

The setpoint arithmetic and the verdicts on observed states are the pure
core's (:mod:`scheduler.domain.setpoints`, :mod:`scheduler.domain.overrides`);
what this package adds is which facilities, when, and what became of each.
It talks to BECON and to the store through the Protocols of :mod:`.ports`.
"""
