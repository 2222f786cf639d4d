"""Operations over vaults shared by several commands (and the web UI)."""
