"""From posts to feed files: entries and their attribution, the RSS/Atom and JSON Feed writers,
the feed list (OPML, index.html), and the build that writes only what changed."""
