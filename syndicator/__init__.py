"""syndicator: feeds from Jekyll-style posts, posts from upstream feeds."""

__version__ = "0.1.0"
