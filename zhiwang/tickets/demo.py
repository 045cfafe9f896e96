"""Demo handling units and routing rules for the whole city, so tickets route out of the box."""

from __future__ import annotations

from django.db import transaction

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.tickets.cache import routing_config_changed
from zhiwang.tickets.catalogue_selectors import CATCH_ALL_NAMES
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
    from zhiwang.classifier.models import Origin
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
        # where it came from, as data: the page says it in the reader's language
        extra_metrics={"origin": Origin.as_dict(Origin.DEMO)},
    )
    held_texts, held_labels = demo_classifier_texts(per_category=held_back_per_category, seed=8)
    comparison = model_compare(candidate=model, current=None, texts=held_texts, labels=held_labels)
    model.refresh_from_db()
    model_set_threshold(model=model, threshold=comparison.candidate.threshold)
    if progress:
        progress("compare", 1, 1)
    return classifier_promote(model=model)


# --- the demo histories' category decisions (training data and the precision/coverage curve) -------

#: Channels where a staff member types the request in and chooses its category with the model's
#: suggestion in view: each such choice is a training example (an intake correction).
DEMO_STAFF_INTAKE_CHANNELS = frozenset({"hotline", "petition"})
#: Channels where citizens write free text: this share of their requests comes without a
#: category, so the model (or the keywords) chooses one and a dispatcher confirms or corrects it.
DEMO_FREE_TEXT_CHANNELS = frozenset({"app", "open311", "api"})
DEMO_FREE_TEXT_SHARE = 0.6
#: Share of staff-taken requests whose category a dispatcher changes afterwards (the operator
#: misfiled it, or the caller described another problem than the one meant).
DEMO_MISFILED_SHARE = 0.05


def demo_category_rng(seed: int, index: int):
    """The demo's category decisions draw from their own sequence: the rest of a history stays as it was."""
    import random

    return random.Random(f"{seed}:{index}:category")


def _misfiled_as(rng, meant, *, kind: str):
    """A sibling leaf of ``meant`` (same parent, allowed for ``kind``) an operator could pick by mistake."""
    from zhiwang.tickets.cache import routing_config
    from zhiwang.tickets.classify import allows_kind, leaf_by_code

    siblings = sorted(
        (
            c
            for c in routing_config().categories.values()
            if c.parent_id == meant.parent_id
            and c.pk != meant.pk
            and leaf_by_code(c.code) is not None
            and allows_kind(c, kind)
        ),
        key=lambda c: c.code,
    )
    return rng.choice(siblings) if siblings else None


def demo_intake_fields(rng, *, channel: str, kind: str, meant, description: str, staff: dict) -> dict:
    """How a demo request is taken in, as keyword arguments for ``ticket_submit`` (merged over the history's).

    Staff channels (hotline, petitions): the intake operator submits it, so their category
    beside the model's suggestion is recorded (``CorrectionSource.INTAKE``); now and then
    they pick a neighbouring category by mistake. A share of citizens' free-text requests
    comes without a category: the model or the keywords choose one (when they find none, as
    for a catch-all "其他" leaf, the citizen picks it: a request without any is refused).
    ``demo_category_review`` then has the dispatcher correct what is not the ``meant`` category.
    """
    from zhiwang.tickets.classify import classify

    if channel in DEMO_STAFF_INTAKE_CHANNELS:
        fields = {"actor": staff["demo_hotline"]}
        if rng.random() < DEMO_MISFILED_SHARE:
            wrong = _misfiled_as(rng, meant, kind=kind)
            if wrong is not None:
                fields["category"] = wrong
        return fields
    if channel in DEMO_FREE_TEXT_CHANNELS and rng.random() < DEMO_FREE_TEXT_SHARE:
        if classify(title="", description=description, kind=kind, category=None).category is not None:
            return {"category": None}
    return {}


def demo_category_review(ticket, *, meant, actor) -> bool:
    """A dispatcher (``actor``) checks the category of a demo ticket waiting for dispatch; True when changed.

    A category that is not the one ``meant`` (the model's or the keywords' wrong guess, or an
    operator's slip) is changed to it (``ticket_recategorise``: a correction, and the route is
    worked out again); a right category nobody had checked is confirmed by the dispatch that
    follows (the flow records that too).
    """
    from zhiwang.tickets.services import ticket_recategorise

    if ticket.category_id is None or ticket.category_id == meant.pk:
        return False
    ticket_recategorise(ticket=ticket, category=meant, actor=actor)
    return True
