"""Building blocks every stage uses: the config, atomic writes, text, dates, slugs,
the HTML sanitizer, logging. Nothing here imports another stage."""
