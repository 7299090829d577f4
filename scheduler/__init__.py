"""drsched: a demand-response scheduler daemon.

Plans (YAML) become events in SQL; the daemon submits them to the DR Requests
API, follows their status and moves HVAC setpoints through BECON Connect while
they are active. See DESIGN.md for the architecture.
"""

__version__ = "0.1.0"
