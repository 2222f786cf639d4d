"""The local web UI (`keep server`, SPEC §11): a Starlette app over the same services as the CLI."""
