"""omie-pipeline: closed CRM deals to Omie clients and NFS-e, exactly once."""
