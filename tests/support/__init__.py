"""Helpers shared by the test files (tests/ is on pytest's pythonpath: ``import support.x``).

- feedcheck: offline validators for RSS 2.0, Atom 1.0 (schemas/atom.rng) and JSON Feed 1.1.
- site: where things are (the checkout, the tests, fixtures, the shared corpus), the standard
  site config, posts written on the fly, builds, and every feed of a build validated.
- feeds: feed writer inputs (a feed's metadata, entries made without a site).
- upstreams: feed documents, a scriptable upstream on pytest-httpserver, a raw HTTP server for
  hostile upstreams, poll configs and polls, and what a poll left behind.
- processes: ``python -m syndicator`` run or started on this checkout's code, a free port, an
  HTTP GET, a process's resident memory, and waiting until something holds.
- scripts: the scripts under bench/, loaded as modules.

The pytest fixtures themselves are in tests/conftest.py.
"""
