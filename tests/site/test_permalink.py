"""Jekyll's URLs and jekyll-feed's ids, so a site switching from jekyll-feed keeps its ids."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support.site import write_post

from syndicator.site.files import PostFile
from syndicator.site.permalink import (
    escape_path,
    filename_parts,
    post_id,
    post_url,
    slugify_default,
    slugify_pretty,
)
from syndicator.site.posts import load_post

DATE = datetime(2021, 12, 8, 22, 6, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULT = "/:categories/:year/:month/:day/:title:output_ext"


def url_and_id(categories, slug, template=DEFAULT, ext=".html"):
    url = post_url(template, categories, DATE, slug, ext)
    return url, post_id(url, slug)


def test_design_example_id(tmp_path, config_from):
    """The site this was made for: ``https://site/emnews/2021/12/08/202112082206885192``."""
    config = config_from('[site]\nurl = "https://site"\n[posts]\ndirs = ["_posts"]\n')
    path = write_post(
        tmp_path / "_posts",
        "2021-12-08-202112082206885192.md",
        "title: t\ndate: 2021-12-08 22:06:05\ncategories: emnews\n",
    )
    post, _ = load_post(PostFile(path, path.parent, 0, 0), config)
    assert post.id == "https://site/emnews/2021/12/08/202112082206885192"
    assert post.url == "https://site/emnews/2021/12/08/202112082206885192.html"


def test_default_permalink():
    assert url_and_id(["emnews"], "202112082206885192") == (
        "/emnews/2021/12/08/202112082206885192.html",
        "/emnews/2021/12/08/202112082206885192",
    )


def test_named_style_date_is_the_default():
    assert url_and_id(["emnews"], "x", "date") == url_and_id(["emnews"], "x")


def test_pretty():
    assert url_and_id(["emnews"], "slug", "pretty") == (
        "/emnews/2021/12/08/slug/",
        "/emnews/2021/12/08/slug",
    )


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("none", "/emnews/x.html"),
        ("ordinal", "/emnews/2021/342/x.html"),
        ("/:year/:i_month/:i_day/:hour:minute:second/:title/", "/2021/12/8/220605/x/"),
        ("/:short_year/:title:output_ext", "/21/x.html"),
    ],
)
def test_other_styles_and_placeholders(template, url):
    assert post_url(template, ["emnews"], DATE, "x", ".html") == url


def test_no_categories():
    assert url_and_id([], "hello") == ("/2021/12/08/hello.html", "/2021/12/08/hello")


def test_categories_downcased_and_deduplicated():
    assert url_and_id(["TechWeb", "techweb", "News"], "x")[0] == "/techweb/news/2021/12/08/x.html"


def test_cjk_category_percent_encoded():
    url, post = url_and_id(["中文"], "x")
    assert url == "/%E4%B8%AD%E6%96%87/2021/12/08/x.html"
    assert post == "/%E4%B8%AD%E6%96%87/2021/12/08/x"


def test_space_and_parentheses_category_like_escape_path():
    """Jekyll's URL.escape_path: a space is %20, sub-delims such as parentheses stay."""
    url, _ = url_and_id(["anxinguojizhengquan(xianggang) 21caijingAPP"], "x")
    assert url == "/anxinguojizhengquan(xianggang)%2021caijingapp/2021/12/08/x.html"


def test_escape_path():
    assert escape_path("a b/c(d)#e%f?g") == "a%20b/c(d)%23e%25f%3Fg"
    assert escape_path("plain-path/ok.html") == "plain-path/ok.html"


def test_front_matter_slug(tmp_path, site_config):
    config = site_config()
    path = write_post(
        tmp_path / "_posts",
        "2022-01-01-file-name.md",
        "title: t\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\nslug: my_custom slug\n",
    )
    post, _ = load_post(PostFile(path, path.parent, 0, 0), config)
    # :title is the pretty slug of ``slug``; the id keeps the raw slug (Document#id).
    assert post.url == "https://site.example/news/2022/01/01/my_custom-slug.html"
    assert post.id == "https://site.example/news/2022/01/01/my_custom%20slug"


def test_front_matter_permalink(tmp_path, site_config):
    config = site_config()
    path = write_post(
        tmp_path / "_posts",
        "2022-01-01-x.md",
        "date: 2022-01-01 10:00:00 +0800\ncategories: news\npermalink: /special/page.html\n",
    )
    post, _ = load_post(PostFile(path, path.parent, 0, 0), config)
    assert post.url == "https://site.example/special/page.html"
    assert post.id == "https://site.example/special/x"


def test_pretty_title_slug_keeps_what_jekyll_keeps():
    """Jekyll's pretty slugify keeps letters, marks, digits and ``._~!$&'()+,;=@``."""
    assert slugify_pretty("foo_bar") == "foo_bar"
    assert slugify_pretty("Hello World!") == "Hello-World!"
    assert slugify_pretty("a  /  b") == "a-b"
    assert slugify_pretty("-lead-and-trail-") == "lead-and-trail"
    assert slugify_pretty("e\u0301t\u00e9") == "e\u0301t\u00e9"  # combining marks stay
    assert slugify_pretty("½ cup") == "cup"  # No (other number) is not \p{Nd}
    assert slugify_pretty("雪球 产品") == "雪球-产品"
    assert slugify_pretty("NWsame-article") == "NWsame-article"


def test_default_slug_placeholder():
    assert slugify_default("Foo_Bar Baz!") == "foo-bar-baz"
    assert post_url("/:categories/:slug/", ["a"], DATE, "My_Post", ".html") == "/a/my-post/"


def test_id_uses_the_raw_slug_escaped():
    url, post = url_and_id(["a"], "Hello World")
    assert url == "/a/2021/12/08/Hello-World.html"
    assert post == "/a/2021/12/08/Hello%20World"


def test_filename_parts():
    assert filename_parts("2021-12-08-202112082206885192") == ("2021-12-08", "202112082206885192")
    assert filename_parts("2021-1-8-x-y") == ("2021-1-8", "x-y")
    assert filename_parts("-202205262391921712") == (None, "-202205262391921712")
    assert filename_parts("about") == (None, "about")
