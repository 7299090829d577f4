"""In-memory fakes at the daemon's ports and the vendors' HTTP APIs, one module per faked side."""
