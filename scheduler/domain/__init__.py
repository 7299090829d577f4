"""The pure core: events, lifecycle, setpoint rules and units. No I/O here."""
