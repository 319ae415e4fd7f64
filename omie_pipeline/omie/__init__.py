"""The Omie API client: envelope, errors, pacing, retries, paging and typed calls.

from omie_pipeline.omie import OmieClient, OmieLimits
client = OmieClient(base_url, app_key, app_secret, limits=OmieLimits(window_seconds=60))
for record in client.list_clients(changed_since=date(2026, 1, 1)):
    ...
"""

from omie_pipeline.omie.client import OmieClient
from omie_pipeline.omie.connection import OmieConnection
from omie_pipeline.omie.pacing import OmieLimits

__all__ = ["OmieClient", "OmieConnection", "OmieLimits"]
