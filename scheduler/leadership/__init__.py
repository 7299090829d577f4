"""Who may act, and the process around it: the PostgreSQL election with its fencing epoch,
the SQLite file lock, the standby, and the supervision (health, schema, then the daemon)."""
