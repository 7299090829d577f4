"""BECON Connect: the client, its "Contract" assumptions, the values it returns, auth, inventory.

``scheduler.clients.becon:hmac_sha256_signer`` is the documented default of
the ``becon.signer`` config key (a public name operators write in their
config), so the package keeps that name at its top.
"""

from scheduler.clients.becon.contract import hmac_sha256_signer

__all__ = ["hmac_sha256_signer"]
