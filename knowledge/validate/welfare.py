"""Checking ``welfare.yml``: thresholds, benefits, the territorial agreement and the FAQs."""

from __future__ import annotations

from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import Source, describe
from knowledge.yamlio import LineDict, plain


def check(ctx: Context, src: Source) -> None:
    if src.data is None or "welfare" not in src.data:
        return
    data = src.data["welfare"]
    if not isinstance(data, LineDict):
        ctx.report(src, src.data.line_of("welfare"), "welfare", f"expected a mapping, got {describe(data)}")
        return
    rec = ctx.record(src, "welfare", data, None)
    for key in ("thresholds", "benefits"):
        seen: dict[str, int] = {}
        for item, _line, index in rec.maps(key, required=True, non_empty=True):
            irec = ctx.record(src, f"welfare.{key}[{name_of(item, 'id', index)}]", item, None)
            iid = irec.text("id")
            irec.text("title")
            if iid is not None:
                if iid in seen:
                    irec.err("id", f"duplicate id '{iid}' (also at line {seen[iid]})")
                seen[iid] = irec.line("id")
    arec = rec.mapping("territorial_agreement", required=True, allowed=None)
    if arec is not None:
        ctx.partner_ref(arec, "contact_partner")
    for item, _line, index in rec.maps("faqs", required=True, non_empty=True):
        frec = ctx.record(src, f"welfare.faqs[{index}]", item, ("q", "a", "keywords"))
        frec.text("q")
        frec.text("a")
        frec.texts("keywords", required=False)
    ctx.result.welfare = plain(data)
