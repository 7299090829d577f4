"""Who may act: the PostgreSQL election with its fencing epoch, the SQLite file lock, standby."""
