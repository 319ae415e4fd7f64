"""The work of each pipeline stage: plain functions that take an Omie client and the state store."""
