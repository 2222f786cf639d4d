"""keep: manage application secrets per stage in local, SSM and Secrets Manager vaults."""

__version__ = "0.1.0"
