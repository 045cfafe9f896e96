"""Demo handling units and routing rules for the whole city, so tickets route out of the box."""

from __future__ import annotations

from django.db import transaction

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.tickets.cache import routing_config_changed
from zhiwang.tickets.models import Category, RoutingRule


@transaction.atomic
def demo_routing_create() -> dict[str, int]:
    """Command centers and offices for every district and subdistrict, and a small rule table."""
    RoutingRule.objects.filter(unit__code__startswith="DEMO-").delete()
    RoutingRule.objects.filter(unit__isnull=True).delete()
    city = Division.objects.get(level=DivisionLevel.CITY)
    city_center = OrgUnit.objects.filter(code="DEMO-CITY-CC").first()
    units = 0
    for district in Division.objects.filter(level=DivisionLevel.DISTRICT):
        center, made = OrgUnit.objects.get_or_create(
            kind=OrgUnitKind.COMMAND_CENTER,
            division=district,
            defaults={
                "code": f"DEMO-CC-{district.code[:6]}",
                "name": f"{district.name}指挥中心",
                "parent": city_center,
            },
        )
        units += made
        _office, made = OrgUnit.objects.get_or_create(
            kind=OrgUnitKind.DIVISION_OFFICE,
            division=district,
            defaults={
                "code": f"DEMO-GOV-{district.code[:6]}",
                "name": f"{district.name}人民政府",
                "parent": center,
            },
        )
        units += made
        for sub in Division.objects.filter(parent=district, level=DivisionLevel.SUBDISTRICT):
            _o, made = OrgUnit.objects.get_or_create(
                kind=OrgUnitKind.DIVISION_OFFICE,
                division=sub,
                defaults={"code": f"DEMO-SUB-{sub.code[:9]}", "name": f"{sub.name}办事处", "parent": center},
            )
            units += made
    urban = OrgUnit.objects.filter(code="DEMO-NS-URBAN").first()
    nanshan = Division.objects.get(code="440305000000")

    def cat(code):
        return Category.objects.get(code=code)

    rules = [
        # grid incidents: the subdistrict office acts, automatically
        RoutingRule(category=cat("GI"), tier="subdistrict", auto_dispatch=True),
        # illegal structures in Nanshan: the district's urban-management bureau, automatically
        RoutingRule(category=cat("GI0301"), division=nanshan, unit=urban, auto_dispatch=True)
        if urban
        else None,
        # urban affairs in general: the subdistrict office, via the dispatcher
        RoutingRule(category=cat("01"), tier="subdistrict"),
        # everything else: the district government, via the dispatcher
        RoutingRule(category=None, division=city, tier="district"),
    ]
    rules = [r for r in rules if r is not None]
    RoutingRule.objects.bulk_create(rules)
    routing_config_changed()  # bulk_create sends no signal
    return {"units": units, "rules": len(rules)}


#: Places and phrasings the demo city's synthetic requests are written with.
DEMO_PLACES = (
    "南山区桃源街道",
    "福田区华强北",
    "罗湖区东门",
    "宝安区西乡",
    "龙岗区坂田",
    "龙华区民治",
    "我们小区",
    "学校门口",
    "地铁站附近",
    "工业园区",
    "城中村",
    "公交站旁边",
)
DEMO_OPENINGS = ("", "您好，", "市民来电反映：", "网友留言：", "我想反映一下，", "紧急！")
#: Catch-all leaves ("其他") have no words of their own: the demo model leaves them to people.
CATCH_ALL_NAMES = ("其他", "其它")
DEMO_TEMPLATES = (
    "{place}{leaf}问题，{phrase}",
    "反映{place}的{leaf}情况。{phrase}",
    "关于{parent}方面：{place}{leaf}，{phrase}",
    "{place}有{leaf}的问题，{keyword}，{phrase}",
    "{leaf}（{parent}）：{place}，{phrase}",
    "{keyword}{keyword2}，地点在{place}，{phrase}",
)


def demo_classifier_texts(*, per_category: int = 8, seed: int = 7) -> tuple[list[str], list[str]]:
    """Synthetic request texts for every active leaf category (its name, parents, keywords, places).

    The demo city's own history is written the same way (``tickets.history``); these
    vary the wording so the model learns the category's words rather than one sentence.
    """
    import random

    from zhiwang.tickets.history import PHRASES

    rng = random.Random(seed)
    categories = {c.pk: c for c in Category.objects.filter(is_active=True)}
    parents = {c.parent_id for c in categories.values() if c.parent_id}
    texts, labels = [], []
    for category in sorted(categories.values(), key=lambda c: c.code):
        if category.pk in parents or category.name in CATCH_ALL_NAMES:
            continue
        chain, node = [], categories.get(category.parent_id)
        while node is not None:
            chain.append(node.name)
            node = categories.get(node.parent_id)
        parent = chain[0] if chain else category.name
        words = [k.strip() for k in category.keywords.split(",") if k.strip()] or [category.name, *chain[:1]]
        for i in range(per_category):
            template = DEMO_TEMPLATES[i % len(DEMO_TEMPLATES)]
            text = template.format(
                place=rng.choice(DEMO_PLACES),
                leaf=category.name,
                parent=parent,
                keyword=rng.choice(words),
                keyword2=rng.choice(words),
                phrase=rng.choice(PHRASES),
            )
            texts.append(rng.choice(DEMO_OPENINGS) + text)
            labels.append(category.code)
    return texts, labels


def demo_classifier_train(progress=None, *, per_category: int = 4, held_back_per_category: int = 2):
    """Train, measure and promote a category model on the demo city's synthetic requests.

    One fit (no cross-validation, to stay fast: about 10 s on the default catalogue on a
    2-core machine); the auto-dispatch threshold is then read off the precision/coverage
    curve on differently worded held-back requests (98 % precision), which also gives the
    model its reference figures for the drift check. Returns the promoted ``ClassifierModel``.
    ``progress(stage, done, total)`` as in ``classifier.ml.train``.
    """
    from zhiwang.classifier.services import model_compare, model_set_threshold, model_train
    from zhiwang.tickets.classify import MODEL_NAME
    from zhiwang.tickets.services.smart import classifier_promote

    texts, labels = demo_classifier_texts(per_category=per_category, seed=7)
    model = model_train(
        name=MODEL_NAME,
        texts=texts,
        labels=labels,
        cv=0,
        progress=progress,
        note="demo: synthetic requests of the demo city",
    )
    held_texts, held_labels = demo_classifier_texts(per_category=held_back_per_category, seed=8)
    comparison = model_compare(candidate=model, current=None, texts=held_texts, labels=held_labels)
    model.refresh_from_db()
    model_set_threshold(model=model, threshold=comparison.candidate.threshold)
    if progress:
        progress("compare", 1, 1)
    return classifier_promote(model=model)
