"""What the service remembers between runs: the state database and the write lock beside it."""
