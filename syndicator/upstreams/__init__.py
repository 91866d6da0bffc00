"""From upstreams to posts: fetching, parsing feeds, discovery, polling on a schedule with
backoff, and writing each new entry as a post in the site's own format, exactly once."""
