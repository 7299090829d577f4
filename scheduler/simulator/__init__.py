"""A stand-in for both vendor clouds (DR Requests and BECON Connect) as one ASGI app."""
