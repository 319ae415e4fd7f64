"""Pure rules of the pipeline: documents, deals, invoice statuses, taxes, money and time.

Nothing here imports the rest of the project, does I/O or reads the clock except `now_utc`, so
every rule can be tested on its own and reused by the client, the store, the simulator and reports.
"""
