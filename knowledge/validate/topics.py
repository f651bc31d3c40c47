"""Checking ``topics.yml``: the topics and the kinds of service under each."""

from __future__ import annotations

from knowledge.records import Kind, Topic
from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import SNAKE_ID, Source


def check(ctx: Context, src: Source) -> None:
    if src.data is None:
        return
    ctx.topic_kinds = {}
    kind_lines: dict[str, tuple[str, int]] = {}
    topic_lines: dict[str, int] = {}
    for item, _line, index in ctx.top_list(src, "topics"):
        rec = ctx.record(
            src, f"topics[{name_of(item, 'id', index)}]", item, ("id", "name", "keywords", "kinds")
        )
        before = ctx.error_count
        tid = rec.ident("id", SNAKE_ID)
        if tid is not None:
            if tid in topic_lines:
                rec.err("id", f"duplicate topic id '{tid}' (also at line {topic_lines[tid]})")
                tid = None
            else:
                topic_lines[tid] = rec.line("id")
                ctx.topic_kinds[tid] = set()
        name = rec.text("name")
        keywords = rec.texts("keywords", required=False) or ()
        kinds: dict[str, Kind] = {}
        for kind_item, _kline, kind_index in rec.maps("kinds", required=True, non_empty=True):
            krec = ctx.record(
                src,
                f"{rec.where}.kinds[{name_of(kind_item, 'id', kind_index)}]",
                kind_item,
                ("id", "name", "keywords"),
            )
            kid = krec.ident("id", SNAKE_ID)
            kname = krec.text("name")
            kkeywords = krec.texts("keywords", required=False) or ()
            if kid is None:
                continue
            if kid in kind_lines:
                other_topic, other_line = kind_lines[kid]
                krec.err(
                    "id", f"duplicate kind id '{kid}' (also in topic '{other_topic}', line {other_line})"
                )
                continue
            kind_lines[kid] = (tid or "?", krec.line("id"))
            if tid is not None:
                ctx.topic_kinds[tid].add(kid)
                kinds[kid] = Kind(id=kid, name=kname or kid, topic=tid, keywords=kkeywords)
        if tid is not None and ctx.error_count == before:
            ctx.result.topics[tid] = Topic(id=tid, name=name or tid, keywords=keywords, kinds=kinds)
