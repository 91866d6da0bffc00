"""The wire: the HTTP server, the in-memory store of feed files it serves, and the metrics."""
