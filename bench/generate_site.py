"""Generate a synthetic Jekyll-style Chinese news site for benchmarks.

Usage::

    python bench/generate_site.py --posts 50000 --out /tmp/bench-site [--seed 1]
        [--categories 30] [--force]

This writes ``--posts`` posts to ``OUT/_posts/YYYY-MM-DD-NW<18 digits>.md`` and a
``OUT/syndicator.toml`` that points at them, so ``syndicator --config OUT/syndicator.toml``
can be run against the site.  Each post looks like a real scraped finance-news post:

* YAML front matter with ``layout``, a quoted ``title``, ``date`` (``+0800``, seconds
  resolution, spread over 2020-2022, unique within a site), ``categories`` (an ASCII
  pinyin-like slug; a few contain spaces or parentheses) and ``tags`` (``<source>新闻``);
* a one-line HTML body of CJK paragraphs (``<p>``, some ``<strong>``, keyword links
  ``<span id="…"><a href="http://quote.example.com/…" class="keytip">…</a></span>`` and
  the occasional ``<img>``) ending with ``<p class="em_media">（文章来源：<source>）</p>``;
* the original article URL as an autolink ``<http://…>``;
* the navigation line ``[返回<source>新闻](…)｜[返回首页](…)``.

The body after the front matter is between 6 KiB and 10,000 bytes of UTF-8.

Output depends only on the arguments: everything is drawn from ``random.Random(seed)``
(never the clock or ``hash()``), and the text comes from word lists built into this file,
so the same arguments give byte-identical files.  An existing non-empty ``OUT`` is refused
unless ``--force`` is given; ``--force`` removes the ``*.md`` files already in
``OUT/_posts`` (so no stale posts remain) and overwrites ``OUT/syndicator.toml``.

Benchmarks and tests can import the module from its file path and call
:func:`generate_site` or :func:`make_post`.
"""

import argparse
import functools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: Bounds on the UTF-8 size of everything after the front matter.
BODY_MIN_BYTES = 6 * 1024
BODY_MAX_BYTES = 10_000

#: Posts are dated in [START, START + SPAN_SECONDS), all in China Standard Time.
CST = timezone(timedelta(hours=8))
START = datetime(2020, 1, 1, tzinfo=CST)
SPAN_SECONDS = int((datetime(2023, 1, 1, tzinfo=CST) - START).total_seconds())

NEWS_HOST = "finews.example.com"
QUOTE_HOST = "quote.example.com"
IMAGE_HOST = "img.example.com"

CONFIG_TOML = """\
[site]
title = "Bench site"
url = "https://bench.example.com"
timezone = "Asia/Shanghai"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"

[state]
path = "var/syndicator.db"
"""


@dataclass(frozen=True)
class Category:
    """A category slug and the CJK name of its source; the post's tag is ``source + 新闻``."""

    slug: str
    source: str

    @property
    def tag(self) -> str:
        return f"{self.source}新闻"


# Slugs are ASCII; a few have spaces or parentheses, as on the real site.  Source names have
# no parentheses so the default attribution pattern (``（文章来源：X）``) reads them whole.
_CATEGORY_TABLE: tuple[tuple[str, str], ...] = (
    ("zhongguozhengquanbao", "中国证券报"),
    ("shanghaizhengquanbao", "上海证券报"),
    ("zhengquanshibao", "证券时报"),
    ("zhengquanribao", "证券日报"),
    ("anxinguojizhengquan(xianggang)", "安信国际证券香港"),
    ("meirijingjixinwen", "每日经济新闻"),
    ("diyicaijing", "第一财经"),
    ("jingjicankaobao", "经济参考报"),
    ("21 shiji jingji baodao", "二十一世纪经济报道"),
    ("cailianshe", "财联社"),
    ("jiemianxinwen", "界面新闻"),
    ("xinjingbao", "新京报"),
    ("pengpaixinwen", "澎湃新闻"),
    ("yangshixinwen", "央视新闻"),
    ("renminribao", "人民日报"),
    ("xinhuashe", "新华社"),
    ("zhongguojijinbao", "中国基金报"),
    ("quanshangzhongguo", "券商中国"),
    ("huaxiashibao", "华夏时报"),
    ("jingjiguanchabao", "经济观察报"),
    ("beijingshangbao", "北京商报"),
    ("zhongxinjingwei", "中新经纬"),
    ("hongxingxinwen", "红星新闻"),
    ("jinrongjie", "金融界"),
    ("dongfangcaifu yanjiuzhongxin", "东方财富研究中心"),
    ("huataizhengquan", "华泰证券"),
    ("guotaijunan(guoji)", "国泰君安国际"),
    ("zhongxinzhengquan", "中信证券"),
    ("zhaoshang zhengquan (hk)", "招商证券香港"),
    ("tianfengzhengquan", "天风证券"),
    ("dongwuzhengquan", "东吴证券"),
    ("guojizhengquanbao", "国际金融报"),
)


def _word_list(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text``, without repeats, in order."""
    return tuple(dict.fromkeys(text.split()))


# A few hundred common words of Chinese finance news; sentences are built from these.
_WORDS: tuple[str, ...] = _word_list(
    """
    市场 投资者 公司 企业 行业 经济 发展 增长 政策 资金 银行 证券 基金 股票 债券 指数
    上涨 下跌 收盘 开盘 成交 交易 板块 个股 龙头 概念 题材 业绩 营收 净利润 同比 环比
    季度 年度 报告 数据 显示 表示 认为 预计 预期 目前 未来 近日 今年 去年 本周 上周
    机构 券商 分析师 研究 观点 策略 配置 估值 风险 机会 趋势 结构 调整 回暖 复苏 稳定
    持续 加快 推进 实施 支持 鼓励 提升 优化 改革 开放 创新 科技 制造 消费 出口 进口
    需求 供给 价格 成本 利润 规模 项目 产业 链条 新能源 汽车 光伏 储能 半导体 芯片
    医药 生物 医疗 地产 房地产 基建 电力 煤炭 钢铁 有色 化工 农业 食品 白酒 旅游 传媒
    互联网 平台 数字 金融 保险 信托 理财 外资 北向 南向 资金面 流动性 利率 汇率 人民币
    美元 央行 货币 财政 监管 部门 委员会 会议 发布 通知 意见 方案 规定 办法 措施 工作
    中国 全国 地方 城市 区域 国际 全球 海外 境内 境外 沪市 深市 港股 美股 创业板 科创板
    主板 北交所 上交所 深交所 新三板 募集 发行 上市 退市 重组 并购 增持 减持 回购 分红
    股东 董事会 管理层 员工 客户 用户 产品 服务 技术 研发 生产 销售 渠道 品牌 模式 能力
    水平 质量 效率 效益 贡献 影响 作用 意义 方面 领域 环节 阶段 过程 情况 问题 挑战 压力
    进一步 持续 稳步 明显 大幅 小幅 显著 逐步 不断 积极 有效 合理 充分 全面 重点 主要
    相关 有关 其中 此外 同时 另外 然而 但是 因此 所以 由于 随着 根据 按照 通过 对于 关于
    已经 正在 将会 可能 应该 需要 能够 继续 开始 实现 完成 达到 保持 形成 带来 推动 促进
    加强 扩大 降低 减少 增加 提高 改善 保障 落实 完善 建立 健全 深化 拓展 聚焦 围绕 坚持
    一季度 二季度 三季度 四季度 上半年 下半年 全年 月份 期间 以来 之后 之前 左右 以上 以下
    总额 余额 存款 贷款 信贷 融资 债务 资产 负债 净值 收益 收益率 回报 溢价 折价 仓位
    """
)

# Short headline fragments used for titles and ``<strong>`` sub-headings.
_HEADLINE_WORDS: tuple[str, ...] = _word_list(
    """
    重磅 突发 关注 聚焦 解读 快讯 独家 最新 多家 多只 逾 超 近 首次 再度 持续 大涨 大跌
    创新高 回落 反弹 加码 布局 抢筹 出炉 公布 获批 落地 提速 升温 降温 分化 走强 走弱
    """
)

# Units for whole numbers and for decimals.
_COUNT_UNITS: tuple[str, ...] = ("只", "家", "亿元", "万元", "万手", "个", "名", "元")
_DECIMAL_UNITS: tuple[str, ...] = ("%", "亿元", "万元", "元", "个百分点", "倍", "点")

# Keyword links: (name, market, code), rendered as eastmoney-style ``keytip`` anchors.
_KEYWORDS: tuple[tuple[str, int, str], ...] = (
    ("贵州茅台", 1, "600519"),
    ("宁德时代", 0, "300750"),
    ("中国平安", 1, "601318"),
    ("招商银行", 1, "600036"),
    ("比亚迪", 0, "002594"),
    ("隆基绿能", 1, "601012"),
    ("五粮液", 0, "000858"),
    ("中信证券", 1, "600030"),
    ("东方财富", 0, "300059"),
    ("工商银行", 1, "601398"),
    ("万科A", 0, "000002"),
    ("腾讯控股", 116, "00700"),
    ("美团", 116, "03690"),
    ("上证指数", 1, "000001"),
    ("深证成指", 0, "399001"),
    ("创业板指", 0, "399006"),
    ("恒生指数", 100, "HSI"),
    ("中芯国际", 1, "688981"),
    ("长江电力", 1, "600900"),
    ("海天味业", 1, "603288"),
    ("迈瑞医疗", 0, "300760"),
    ("紫金矿业", 1, "601899"),
    ("中国石油", 1, "601857"),
    ("恒瑞医药", 1, "600276"),
)

_SENTENCE_POOL_SIZE = 4096
_POOL_SEED = 20220530


def default_categories(count: int = 30) -> list[Category]:
    """The first ``count`` built-in categories, then numbered extras if more are asked for."""
    if count < 1:
        raise ValueError("need at least one category")
    categories = [Category(slug, source) for slug, source in _CATEGORY_TABLE[:count]]
    for extra in range(len(categories), count):
        categories.append(Category(f"qitalaiyuan{extra}", f"其他来源{extra}"))
    return categories


def _number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return f"{rng.uniform(0.1, 99.9):.2f}{rng.choice(_DECIMAL_UNITS)}"
    if kind < 0.85:
        return f"{rng.randint(2, 999)}{rng.choice(_COUNT_UNITS)}"
    return f"{rng.randint(1000, 99999)}{rng.choice(_COUNT_UNITS)}"


def _clause(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(2, 6))
    if rng.random() < 0.25:
        words.insert(rng.randrange(len(words) + 1), _number(rng))
    return "".join(words)


@functools.cache
def _sentence_pool() -> tuple[str, ...]:
    """A fixed pool of sentences; posts pick from it, which keeps generation fast."""
    rng = random.Random(_POOL_SEED)
    return tuple(
        "，".join(_clause(rng) for _ in range(rng.randint(1, 4))) + "。"
        for _ in range(_SENTENCE_POOL_SIZE)
    )


def _keyword_link(rng: random.Random) -> str:
    name, market, code = rng.choice(_KEYWORDS)
    return (
        f'<span id="stock_{market}.{code}">'
        f'<a href="http://{QUOTE_HOST}/unify/r/{market}.{code}" class="keytip">{name}</a>'
        "</span>"
    )


def _paragraph(rng: random.Random, pool: Sequence[str]) -> str:
    sentences = rng.choices(pool, k=rng.randint(2, 6))
    roll = rng.random()
    if roll < 0.08:
        # A bold sub-heading paragraph.
        return f"<p><strong>{_headline(rng, 8, 18)}</strong></p>"
    if roll < 0.20:
        sentences[0] = f"<strong>{sentences[0]}</strong>"
    if rng.random() < 0.35:
        at = rng.randrange(len(sentences))
        sentences[at] = _keyword_link(rng) + sentences[at]
    return "<p>" + "".join(sentences) + "</p>"


def _headline(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    parts: list[str] = [rng.choice(_HEADLINE_WORDS)] if rng.random() < 0.3 else []
    length = sum(map(len, parts))
    number_at = rng.randrange(4) if rng.random() < 0.4 else -1
    while length < target:
        word = _number(rng) if len(parts) == number_at else rng.choice(_WORDS)
        parts.append(word)
        length += len(word)
    return "".join(parts)


def _post_id(index: int, when: datetime, salt: int) -> str:
    # The multiplier (7 * 3**20) is coprime to 10, so index -> serial is one-to-one modulo
    # 10**10: ids are unique within a site of up to 10**10 posts whatever their dates.
    serial = (index * 24407490807 + salt) % 10**10
    return f"NW{when:%Y%m%d}{serial:010d}"


def make_post(
    rng: random.Random,
    index: int,
    categories: Sequence[Category] | None = None,
    when: datetime | None = None,
    id_salt: int = 0,
) -> tuple[str, str]:
    """Return ``(file name, file text)`` for post number ``index``.

    ``when`` defaults to a random second in 2020-2022 (+0800) drawn from ``rng``; pass
    distinct ``when`` values to get distinct dates.  Ids are unique for distinct ``index``
    values with the same ``id_salt``.
    """
    cats = categories if categories is not None else default_categories()
    if when is None:
        when = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    category = rng.choice(cats)
    post_id = _post_id(index, when, id_salt)
    title = _headline(rng, 10, 28)

    # The fixed tail of the body: attribution, autolink, navigation.
    attribution = f'<p class="em_media">（文章来源：{category.source}）</p>'
    tail = (
        f"{attribution}\n\n"
        f"<http://{NEWS_HOST}/html_News/NewsShare.html?infoCode={post_id}>\n\n"
        f"[返回{category.tag}](//{NEWS_HOST}/category/{category.slug}.html)"
        f"｜[返回首页](//{NEWS_HOST}/)\n"
    )

    image = ""
    if rng.random() < 0.25:
        image = (
            f'<p style="text-align: center;"><img src="https://{IMAGE_HOST}/news/'
            f'{when:%Y%m%d}/{rng.getrandbits(64):016x}.jpg"></p>'
        )

    # Paragraphs until the body reaches a target size, never past BODY_MAX_BYTES.  A
    # paragraph is at most ~2.1 KB (6 sentences of <= 4 clauses of <= 6 words and a number,
    # plus markup), so a body that cannot take the next paragraph already has more than
    # BODY_MAX_BYTES - 2.1 KB > BODY_MIN_BYTES.
    pool = _sentence_pool()
    target = rng.randint(BODY_MIN_BYTES + 100, BODY_MAX_BYTES - 300)
    size = len(tail.encode()) + len(image.encode())
    paragraphs: list[str] = []
    while size < target:
        paragraph = _paragraph(rng, pool)
        length = len(paragraph.encode())
        if size + length > BODY_MAX_BYTES:
            break
        paragraphs.append(paragraph)
        size += length
    if image:
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), image)

    front_matter = (
        "---\n"
        "layout: post\n"
        f"title: {json.dumps(title, ensure_ascii=False)}\n"
        f"date: {when:%Y-%m-%d %H:%M:%S %z}\n"
        f"categories: {category.slug}\n"
        f"tags: {category.tag}\n"
        "---\n"
    )
    name = f"{when:%Y-%m-%d}-{post_id}.md"
    return name, front_matter + "".join(paragraphs) + tail


def generate_site(
    out: Path, posts: int, seed: int = 1, categories: int = 30, *, force: bool = False
) -> None:
    """Write ``posts`` posts to ``out/_posts`` and ``out/syndicator.toml``.

    Raises ``FileExistsError`` if ``out`` is not empty, unless ``force`` is true, in which
    case the ``*.md`` files already in ``out/_posts`` are removed first.
    """
    if posts < 0:
        raise ValueError("posts must be >= 0")
    if posts > SPAN_SECONDS:
        raise ValueError(f"at most {SPAN_SECONDS} posts (one per second of three years)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} is not empty (use --force to write into it)")
        stale_dir = out / "_posts"
        if stale_dir.is_dir():
            for stale in stale_dir.glob("*.md"):
                stale.unlink()

    rng = random.Random(seed)
    cats = default_categories(categories)
    id_salt = rng.randrange(10**10)
    # Distinct seconds, sorted, so dates are unique and post index follows publication order.
    offsets = sorted(rng.sample(range(SPAN_SECONDS), posts))

    posts_dir = out / "_posts"
    posts_dir.mkdir(parents=True, exist_ok=True)
    for index, offset in enumerate(offsets):
        when = START + timedelta(seconds=offset)
        name, text = make_post(rng, index, cats, when=when, id_salt=id_salt)
        (posts_dir / name).write_bytes(text.encode())
    (out / "syndicator.toml").write_bytes(CONFIG_TOML.encode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a synthetic Jekyll-style news site for benchmarks."
    )
    parser.add_argument("--posts", type=int, required=True, help="number of posts")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--categories", type=int, default=30, help="number of categories")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    args = parser.parse_args(argv)
    if args.posts < 0:
        parser.error("--posts must be >= 0")
    if args.categories < 1:
        parser.error("--categories must be >= 1")
    started = time.perf_counter()
    try:
        generate_site(args.out, args.posts, args.seed, args.categories, force=args.force)
    except (FileExistsError, NotADirectoryError, ValueError) as error:
        print(f"generate_site: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"wrote {args.posts} posts to {args.out / '_posts'} in {elapsed:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
