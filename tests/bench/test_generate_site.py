"""The benchmark site generator (bench/generate_site.py) is deterministic and well shaped."""

import re
import tomllib
from pathlib import Path

import frontmatter
import pytest
from support.scripts import load_script

gen = load_script("generate_site.py", "bench_generate_site")

DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800$")
ATTRIBUTION = re.compile(r'<p class="em_media">（文章来源：(?P<source>[^）]+)）</p>')
AUTOLINK = re.compile(r"^<http://[^\s<>]+\?infoCode=(?P<id>NW\d{18})>$", re.MULTILINE)
NAVIGATION = re.compile(r"^\[返回(?P<tag>.+新闻)\]\(//[^)]+/category/.+\.html\)｜\[返回首页\]\(//")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    gen.generate_site(tmp_path / "a", 20, seed=7)
    gen.generate_site(tmp_path / "b", 20, seed=7)
    gen.generate_site(tmp_path / "c", 20, seed=8)
    a, b, c = (_snapshot(tmp_path / name) for name in "abc")
    assert len(a) == 21  # 20 posts and the config
    assert a == b
    assert a != c


def test_posts_are_well_formed(tmp_path: Path) -> None:
    gen.generate_site(tmp_path, 20, seed=3)
    config = tomllib.loads((tmp_path / "syndicator.toml").read_text(encoding="utf-8"))
    assert config["posts"]["dirs"] == ["_posts"]
    assert config["site"]["timezone"] == "Asia/Shanghai"

    paths = sorted((tmp_path / "_posts").glob("*.md"))
    assert len(paths) == 20
    ids = set()
    for path in paths:
        post = frontmatter.load(path)
        assert post["layout"] == "post"
        assert post["title"]
        # "+0800" (no colon) is not a YAML timestamp, so PyYAML leaves the date a string,
        # just as with the real posts.
        date = str(post["date"])
        assert DATE.match(date), date
        assert path.name.startswith(date[:10] + "-")
        assert post["categories"]
        assert str(post["tags"]).endswith("新闻")

        body = post.content
        assert gen.BODY_MIN_BYTES <= len(body.encode()) <= gen.BODY_MAX_BYTES
        assert 6 * 1024 <= len(body.encode()) <= 10 * 1024
        attribution = ATTRIBUTION.search(body)
        assert attribution is not None
        assert f"{attribution['source']}新闻" == post["tags"]
        autolink = AUTOLINK.search(body)
        assert autolink is not None
        assert path.name.endswith(f"-{autolink['id']}.md")
        ids.add(autolink["id"])
        assert NAVIGATION.search(body.splitlines()[-1]) is not None
        assert "<p>" in body
    assert len(ids) == 20


def test_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    assert gen.main(["--posts", "1", "--out", str(tmp_path)]) == 1
    assert not (tmp_path / "_posts").exists()
    with pytest.raises(FileExistsError):
        gen.generate_site(tmp_path, 1)
    assert gen.main(["--posts", "1", "--out", str(tmp_path), "--force"]) == 0
    assert len(list((tmp_path / "_posts").glob("*.md"))) == 1
