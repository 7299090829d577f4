"""The DR Requests API: the client, its "Contract" assumptions, the values it sends and returns."""
