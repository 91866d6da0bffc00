"""The site's posts: finding post files, reading their front matter and bodies, permalinks and
ids, Markdown, the labels that put a post in feeds, and the index of parsed posts."""
