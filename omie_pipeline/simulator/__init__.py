"""A local Omie API server: the examiner of the project's Omie client.

It answers Omie's paths, calls, field names, paging, faults, HTTP codes and limits as described in
omie-api.md, with switchable failures and a `/_sim/` control surface. It deliberately shares no
code with the client it tests.
"""

from omie_pipeline.simulator.app import Simulator
from omie_pipeline.simulator.config import CompanyConfig, SimulatorConfig, derived_companies

__all__ = ["CompanyConfig", "Simulator", "SimulatorConfig", "derived_companies"]
