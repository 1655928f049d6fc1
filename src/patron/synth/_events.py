"""Behavioural events of one chunk: web/app sessions, support tickets, social posts and
reviews, and marketing touches. Each is drawn from the customers' latent types and true
purchase histories, so the signals a model should find are really there."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from patron.synth import _model as m
from patron.synth._customers import Customers
from patron.synth._orders import GUEST, Orders, PurchaseTruth
from patron.synth._writers import fixed_ids, iso_dates, labels, timestamps

DAY = m.SECONDS_PER_DAY
YEAR_DAYS = 365.25


def _between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform epoch seconds in ``[lo, hi)`` (``lo`` where the range is empty)."""
    width = np.maximum(hi - lo, 1)
    return lo + np.floor(rng.random(len(lo)) * width).astype(np.int64)


def _before(rng: np.random.Generator, at: np.ndarray, lead: np.ndarray, floor: np.ndarray
            ) -> np.ndarray:
    """``at - lead``; where that falls before ``floor``, a uniform time in ``[floor, at]``
    instead (so nothing piles up on the window start or the sign-up)."""
    ts = at - lead
    early = ts < floor
    ts[early] = _between(rng, floor[early], at[early] + 1)
    return ts


def _type_column(name: str) -> np.ndarray:
    return np.array([getattr(t, name) for t in m.TYPES])


def _customer_ids(customers: Customers, position: np.ndarray) -> pa.StringArray:
    """``C########`` of chunk positions; null for GUEST positions."""
    valid = position != GUEST
    return fixed_ids("C", customers.number[np.maximum(position, 0)], 8, valid)


def _active_until(customers: Customers, truth: PurchaseTruth, end_s: int) -> np.ndarray:
    """End of each customer's active life: the drop-out time, or the window end."""
    return np.where(truth.alive_at_end, end_s, truth.dropout_s + 1)


# --------------------------------------------------------------------------- sessions


def draw_sessions(rng: np.random.Generator, customers: Customers, orders: Orders,
                  order_numbers: np.ndarray, truth: PurchaseTruth, calendar: m.Calendar,
                  first_number: int) -> pa.Table:
    """Web and app sessions.

    A share of online orders was tracked; each tracked order has a converted session,
    preceded by ``Geometric(c) - 1`` browsing sessions of the same customer and device,
    where ``c`` is the type's conversion rate times the device factor, so the
    conversion rate by device is ``c`` by construction (mobile below desktop). Customers
    without orders window-shop, and anonymous visitors browse (guest orders convert).
    """
    start_s, end_s = calendar.start_s, calendar.end_s
    online = np.flatnonzero(orders.channel < 2)
    tracked = online[rng.random(len(online)) < m.TRACKED_ORDER_SHARE]
    owner = orders.customer[tracked]
    kind = orders.latent_type[tracked]
    device = orders.device[tracked]
    channel = orders.channel[tracked]
    order_ts = orders.ts[tracked]
    floor_ts = np.where(owner == GUEST, start_s, customers.signup_s[np.maximum(owner, 0)])

    conv_duration = rng.lognormal(np.log(420.0), 0.6, len(tracked))
    conv_ts = _before(rng, order_ts, (conv_duration * rng.uniform(0.5, 1.0, len(tracked)))
                      .astype(np.int64), floor_ts)

    rate = _type_column("conversion")[kind] * m.DEVICE_CONVERSION[device]
    browsing = rng.geometric(np.clip(rate, 0.01, 1.0)) - 1
    b_index = np.repeat(np.arange(len(tracked)), browsing)
    b_lead = (rng.exponential(4.0, len(b_index)) * DAY).astype(np.int64)
    b_ts = _before(rng, order_ts[b_index], b_lead, floor_ts[b_index])

    # customers without orders window-shop during their lives
    idle = np.flatnonzero(truth.n_orders == 0)
    idle_visits = rng.poisson(m.WINDOW_SHOPPING_SESSIONS, len(idle))
    w_owner = np.repeat(idle, idle_visits)
    w_ts = _between(rng, customers.signup_s[w_owner], np.full(len(w_owner), end_s))
    w_channel = (rng.random(len(w_owner)) < 0.3).astype(np.int8)
    w_device = np.where(w_channel == 0, m.categorical(rng, m.WEB_DEVICE_MIX, None, len(w_owner)),
                        m.categorical(rng, m.APP_DEVICE_MIX, None, len(w_owner)))

    identified = len(tracked) + len(b_index) + len(w_owner)
    n_anon = int(rng.poisson(m.ANONYMOUS_SESSION_SHARE * identified))
    a_ts = np.floor(calendar.unwarp(rng.random(n_anon) * calendar.total)).astype(np.int64)
    a_channel = (rng.random(n_anon) < 0.25).astype(np.int8)
    a_device = np.where(a_channel == 0, m.categorical(rng, m.WEB_DEVICE_MIX, None, n_anon),
                        m.categorical(rng, m.APP_DEVICE_MIX, None, n_anon))

    n_conv = len(tracked)
    ts = np.concatenate([conv_ts, b_ts, w_ts, a_ts])
    ts = np.clip(ts, start_s, end_s - 1)
    who = np.concatenate([owner, owner[b_index], w_owner, np.full(n_anon, GUEST)])
    session_type = np.where(who == GUEST, m.TYPE_NAMES.index("occasional"),
                            customers.latent_type[np.maximum(who, 0)])
    dev = np.concatenate([device, device[b_index], w_device, a_device]).astype(np.int8)
    chan = np.concatenate([channel, channel[b_index], w_channel, a_channel]).astype(np.int8)
    converted = np.zeros(len(ts), dtype=bool)
    converted[:n_conv] = True
    order_of = np.full(len(ts), -1, dtype=np.int64)
    order_of[:n_conv] = order_numbers[tracked]
    pages = np.concatenate([3 + rng.poisson(5.0, n_conv),
                            1 + rng.poisson(2.0, len(ts) - n_conv)])
    duration = np.concatenate([
        conv_duration,
        rng.lognormal(np.log(150.0), 0.9, len(ts) - n_conv),
    ])
    traffic = m.categorical(rng, m.TRAFFIC_MIX, session_type, len(ts))

    order = np.argsort(ts, kind="stable")
    sources = np.array([s for s, _ in m.TRAFFIC_SOURCES])
    media = np.array([md for _, md in m.TRAFFIC_SOURCES])
    traffic = traffic[order]
    return pa.table({
        "session_id": fixed_ids("S", first_number + np.arange(len(ts)), 10),
        "customer_id": _customer_ids(customers, who[order]),
        "ts": timestamps(ts[order]),
        "device": labels(dev[order], m.DEVICES),
        "channel": labels(chan[order], ("web", "app")),
        "source": labels(traffic, list(sources)),
        "medium": labels(traffic, list(media)),
        "pages": pa.array(pages[order].astype(np.int64)),
        "duration_s": pa.array(np.round(duration[order], 1)),
        "converted": pa.array(converted[order]),
        "order_id": fixed_ids("O", np.maximum(order_of[order], 0), 10, order_of[order] >= 0),
    })


# --------------------------------------------------------------------------- tickets


def draw_tickets(rng: np.random.Generator, customers: Customers, truth: PurchaseTruth,
                 calendar: m.Calendar, first_number: int) -> pa.Table:
    """Support tickets: a type-dependent rate over each customer's active life, plus a
    burst around the drop-out (before and just after the last order), when satisfaction
    is low."""
    start_s, end_s = calendar.start_s, calendar.end_s
    until = _active_until(customers, truth, end_s)
    years = (until - customers.signup_s) / (DAY * YEAR_DAYS)
    kind = customers.latent_type
    base = rng.poisson(_type_column("tickets_per_year")[kind] * np.maximum(years, 0.0))
    owner_a = np.repeat(np.arange(len(customers)), base)
    ts_a = _between(rng, customers.signup_s[owner_a], until[owner_a])

    gone = np.flatnonzero(~truth.alive_at_end)
    burst = rng.poisson(_type_column("pre_dropout_tickets")[kind[gone]])
    owner_b = np.repeat(gone, burst)
    ts_b = truth.dropout_s[owner_b] + (rng.uniform(-30.0, 10.0, len(owner_b)) * DAY).astype(
        np.int64)
    ts_b = np.maximum(ts_b, customers.signup_s[owner_b])

    owner = np.concatenate([owner_a, owner_b])
    ts = np.clip(np.concatenate([ts_a, ts_b]), start_s, end_s - 1)
    unhappy = np.concatenate([np.zeros(len(owner_a), bool), np.ones(len(owner_b), bool)])
    satisfaction_mix = np.vstack([np.array([t.satisfaction for t in m.TYPES]),
                                  [[0.40, 0.30, 0.15, 0.10, 0.05]]])
    mix_row = np.where(unhappy, len(m.TYPES), kind[owner])
    satisfaction = (m.categorical(rng, satisfaction_mix, mix_row, len(owner)) + 1).astype(float)
    priority = m.categorical(rng, m.PRIORITY_MIX, None, len(owner))
    hours = rng.lognormal(np.log(m.RESOLUTION_HOURS[priority]), 0.8)
    resolved = ts + (hours * 3600).astype(np.int64)
    is_resolved = (resolved < end_s) & (rng.random(len(owner)) >= m.UNRESOLVED_SHARE)
    answered = is_resolved & (rng.random(len(owner)) < 0.75)
    category = m.categorical(rng, m.TICKET_CATEGORY_MIX, None, len(owner))

    order = np.argsort(ts, kind="stable")
    satisfaction = np.where(answered, satisfaction, np.nan)[order]
    return pa.table({
        "ticket_id": fixed_ids("T", first_number + np.arange(len(ts)), 9),
        "customer_id": _customer_ids(customers, owner[order]),
        "ts": timestamps(ts[order]),
        "category": labels(category[order], m.TICKET_CATEGORIES),
        "priority": labels(priority[order], m.PRIORITIES),
        "resolved_ts": timestamps(np.where(is_resolved, resolved, 0)[order], is_resolved[order]),
        "satisfaction": pa.array(satisfaction, mask=np.isnan(satisfaction)),
    })


# --------------------------------------------------------------------------- social posts

_OPENERS = (
    ("Love", "Really happy with", "So pleased with", "Great experience with",
     "Absolutely love", "Very satisfied with"),
    ("Received", "Got", "Just picked up", "Ordered", "Collected"),
    ("Very disappointed with", "Terrible experience with", "Really unhappy with",
     "Awful service on", "Frustrated with"),
)
_BODIES = (
    ("Fast delivery and excellent quality.", "The product works perfectly and looks great.",
     "Customer service was friendly and helpful.", "Best prices I have found, highly recommend.",
     "Everything arrived on time and well packed."),
    ("It does the job.", "Delivery took about a week.",
     "The item matches the description.", "Average quality for the price.",
     "Packaging was standard."),
    ("It arrived broken and late.", "Still waiting for my refund after weeks.",
     "Support never answered my emails.", "The quality is poor and it stopped working.",
     "Wrong item sent and nobody cares."),
)
_CLOSERS = (
    (" Will definitely buy again!", " Thank you!", " Five stars from me.", " Highly recommended.",
     ""),
    (" We will see how it holds up.", " Might order again.", "", " That is all."),
    (" Never ordering again.", " Worst shop ever.", " Cancelling my account.",
     " Avoid this store.", ""),
)
#: P(rating 1..5) given positive, neutral, negative sentiment.
_RATING_MIX = np.array([
    [0.0, 0.0, 0.05, 0.35, 0.60],
    [0.0, 0.15, 0.70, 0.15, 0.0],
    [0.60, 0.35, 0.05, 0.0, 0.0],
])


def _pick(rng: np.random.Generator, pools: tuple[tuple[str, ...], ...],
          sentiment: np.ndarray) -> pa.Array:
    """One phrase per row from the pool of its sentiment."""
    flat = pa.array([p for pool in pools for p in pool])
    offsets = np.cumsum([0] + [len(p) for p in pools])[:-1]
    sizes = np.array([len(p) for p in pools])
    index = offsets[sentiment] + np.floor(rng.random(len(sentiment)) * sizes[sentiment])
    return flat.take(pa.array(index.astype(np.int32)))


def post_texts(rng: np.random.Generator, sentiment: np.ndarray, category: np.ndarray) -> pa.Array:
    """Plain-English texts whose tone (0 positive, 1 neutral, 2 negative) a lexicon
    sentiment scorer such as VADER recovers."""
    names = pa.array([c.lower() for c in m.CATEGORIES]).take(pa.array(category.astype(np.int8)))
    return pc.binary_join_element_wise(
        _pick(rng, _OPENERS, sentiment), " my ", names, " order. ",
        _pick(rng, _BODIES, sentiment), _pick(rng, _CLOSERS, sentiment), "",
    )


def draw_posts(rng: np.random.Generator, customers: Customers, truth: PurchaseTruth,
               calendar: m.Calendar, first_number: int) -> pa.Table:
    """Social posts, comments and reviews; negative ones cluster before a drop-out."""
    start_s, end_s = calendar.start_s, calendar.end_s
    until = np.minimum(_active_until(customers, truth, end_s) + 60 * DAY, end_s)
    years = (until - customers.signup_s) / (DAY * YEAR_DAYS)
    kind = customers.latent_type
    base = rng.poisson(_type_column("posts_per_year")[kind] * np.maximum(years, 0.0))
    owner_a = np.repeat(np.arange(len(customers)), base)
    ts_a = _between(rng, customers.signup_s[owner_a], until[owner_a])
    gone = np.flatnonzero(~truth.alive_at_end)
    burst = rng.poisson(_type_column("pre_dropout_posts")[kind[gone]])
    owner_b = np.repeat(gone, burst)
    ts_b = truth.dropout_s[owner_b] + (rng.uniform(-45.0, 20.0, len(owner_b)) * DAY).astype(
        np.int64)
    ts_b = np.maximum(ts_b, customers.signup_s[owner_b])
    identified = len(owner_a) + len(owner_b)
    n_anon = int(rng.poisson(identified * m.ANONYMOUS_POST_SHARE / (1 - m.ANONYMOUS_POST_SHARE)))
    ts_c = np.floor(calendar.unwarp(rng.random(n_anon) * calendar.total)).astype(np.int64)

    owner = np.concatenate([owner_a, owner_b, np.full(n_anon, GUEST)])
    ts = np.clip(np.concatenate([ts_a, ts_b, ts_c]), start_s, end_s - 1)
    mix = np.vstack([np.array([t.sentiment for t in m.TYPES]),
                     [[0.05, 0.15, 0.80]], [[0.40, 0.35, 0.25]]])
    row = np.concatenate([kind[owner_a], np.full(len(owner_b), len(m.TYPES)),
                          np.full(n_anon, len(m.TYPES) + 1)])
    sentiment = m.categorical(rng, mix, row, len(owner))
    post_kind = m.categorical(rng, m.POST_KIND_MIX, None, len(owner))
    is_review = post_kind == 1
    social = m.categorical(rng, np.ones(len(m.SOCIAL_PLATFORMS)), None, len(owner))
    review = m.categorical(rng, np.ones(len(m.REVIEW_PLATFORMS)), None, len(owner))
    platform = np.where(is_review, len(m.SOCIAL_PLATFORMS) + review, social)
    rating = (m.categorical(rng, _RATING_MIX, sentiment, len(owner)) + 1).astype(float)
    category = m.categorical(rng, np.ones(len(m.CATEGORIES)), None, len(owner))
    text = post_texts(rng, sentiment, category)

    order = np.argsort(ts, kind="stable")
    return pa.table({
        "post_id": fixed_ids("SP", first_number + np.arange(len(ts)), 9),
        "customer_id": _customer_ids(customers, owner[order]),
        "ts": timestamps(ts[order]),
        "platform": labels(platform[order], m.SOCIAL_PLATFORMS + m.REVIEW_PLATFORMS),
        "kind": labels(post_kind[order], m.POST_KINDS),
        "text": text.take(pa.array(order)),
        "rating": pa.array(rating[order], mask=~is_review[order]),
    })


# --------------------------------------------------------------------------- marketing


def draw_marketing(rng: np.random.Generator, customers: Customers, truth: PurchaseTruth,
                   calendar: m.Calendar) -> pa.Table:
    """Campaign touches from sign-up to the window end (the CRM keeps mailing customers
    who silently left). Campaigns go out weekly per kind; responses depend on the type
    and collapse once the customer has dropped out."""
    start_s, end_s = calendar.start_s, calendar.end_s
    years = (end_s - customers.signup_s) / (DAY * YEAR_DAYS)
    kind = customers.latent_type
    count = rng.poisson(_type_column("touches_per_year")[kind] * years)
    owner = np.repeat(np.arange(len(customers)), count)
    draw = _between(rng, customers.signup_s[owner], np.full(len(owner), end_s))
    opt_in = customers.email_opt_in[owner]
    channel = np.where(opt_in, m.categorical(rng, m.MARKETING_MIX_OPT_IN, None, len(owner)),
                       m.categorical(rng, m.MARKETING_MIX_OPT_OUT, None, len(owner)))
    week0 = start_s - ((start_s // DAY + 3) % 7) * DAY  # the Monday on or before start
    week = (draw - week0) // (7 * DAY)
    send_day = week0 + week * 7 * DAY + m.MARKETING_WEEKDAY[channel] * DAY
    ts = (send_day + m.MARKETING_HOUR[channel] * 3600
          + np.floor(rng.random(len(owner)) * 7200).astype(np.int64))
    keep = (ts >= np.maximum(customers.signup_s[owner], start_s)) & (ts < end_s)
    owner, ts, channel, send_day = owner[keep], ts[keep], channel[keep], send_day[keep]

    alive = truth.alive_at_end[owner] | (ts <= truth.dropout_s[owner])
    touch_type = kind[owner]
    open_p = _type_column("open_rate")[touch_type] * np.where(alive, 1.0, 0.3)
    click_p = _type_column("click_rate")[touch_type] * np.where(alive, 1.0, 0.1)
    convert_p = np.where(alive, _type_column("convert_rate")[touch_type], 0.0)
    opened = rng.random(len(owner)) < open_p
    clicked = opened & (rng.random(len(owner)) < click_p)
    converted = clicked & (rng.random(len(owner)) < convert_p)

    order = np.lexsort((owner, ts))
    code = pa.array(m.MARKETING_CODES).take(pa.array(channel[order].astype(np.int8)))
    campaign = pc.binary_join_element_wise(code, iso_dates(send_day[order], separator=""), "-")
    return pa.table({
        "campaign_id": campaign,
        "customer_id": _customer_ids(customers, owner[order]),
        "ts": timestamps(ts[order]),
        "kind": labels(channel[order], m.MARKETING_KINDS),
        "opened": pa.array(opened[order]),
        "clicked": pa.array(clicked[order]),
        "converted": pa.array(converted[order]),
    })
