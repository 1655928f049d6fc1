"""Orders of one chunk: the true purchase process, order lines and guest checkouts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.synth import _model as m
from patron.synth._customers import Customers
from patron.synth._writers import dates, fixed_ids, labels, timestamps

GUEST = -1  # customer position of a guest order


@dataclass
class PurchaseTruth:
    """What really happened to each customer of a chunk (times in epoch seconds)."""

    n_orders: np.ndarray  # int64, orders placed in the window (any status)
    alive_at_end: np.ndarray  # bool
    dropout_s: np.ndarray  # int64, time of the last order before dropping out; -1 if alive


@dataclass
class Orders:
    """Orders (one entry per order) and their lines, sorted by order time."""

    ts: np.ndarray  # int64 epoch seconds
    customer: np.ndarray  # int64 position in the chunk's Customers, GUEST for guests
    channel: np.ndarray  # int8 index into ORDER_CHANNELS
    device: np.ndarray  # int8 index into DEVICES, -1 for store orders
    status: np.ndarray  # int8 index into STATUSES
    region: np.ndarray  # int8 index into REGIONS
    latent_type: np.ndarray  # int8 type used for behaviour (guests act as occasional)
    line_order: np.ndarray  # int64 order position of each line
    line_no: np.ndarray  # int8, 1-based within the order
    category: np.ndarray  # int8 index into CATEGORIES
    product: np.ndarray  # int16 index into the product catalogue
    quantity: np.ndarray  # int64 units
    unit_price: np.ndarray  # float64 currency
    discount: np.ndarray  # float64 currency off the line
    revenue: np.ndarray  # float64 currency, quantity * unit_price - discount

    def __len__(self) -> int:
        return len(self.ts)


_OCCASIONAL = m.TYPE_NAMES.index("occasional")


def purchase_times(rng: np.random.Generator, customers: Customers, calendar: m.Calendar
                   ) -> tuple[np.ndarray, np.ndarray, PurchaseTruth]:
    """Draw every customer's order times under BG/NBD with calendar seasonality.

    On the effective-day clock a customer alive for the whole window would place
    ``M ~ Poisson(lambda * D)`` orders, ``D`` the effective days from sign-up to the end.
    They drop out after order ``K ~ Geometric(p)``, so ``min(M, K)`` orders are placed.
    The first ``n`` of ``M`` uniform order statistics are drawn directly from exponential
    spacings, so no order after the drop-out is ever simulated.

    Returns the order times (epoch seconds, grouped by customer, increasing), the
    customer position of each order and the truth per customer.
    """
    size = len(customers)
    w0 = calendar.warp(customers.signup_s.astype(np.float64))
    span = np.maximum(calendar.total - w0, 0.0)
    possible = rng.poisson(customers.purchase_rate * span)
    lifetime = rng.geometric(customers.dropout_prob)
    n = np.minimum(possible, lifetime)
    alive = lifetime > possible
    owner = np.repeat(np.arange(size, dtype=np.int64), n)
    spacing_sum = np.cumsum(rng.exponential(1.0, int(n.sum())))
    first = np.cumsum(n) - n
    before = np.concatenate([[0.0], spacing_sum])[first]
    within = spacing_sum - np.repeat(before, n)
    last_sum = np.zeros(size)
    has = n > 0
    last_sum[has] = within[first[has] + n[has] - 1]
    total_sum = last_sum + rng.gamma((possible - n + 1).astype(np.float64))
    warped = w0[owner] + within / total_sum[owner] * span[owner]
    ts = np.floor(calendar.unwarp(warped)).astype(np.int64)
    ts = np.clip(ts, customers.signup_s[owner], calendar.end_s - 1)
    dropout_s = np.full(size, -1, dtype=np.int64)
    gone = ~alive
    dropout_s[gone] = ts[first[gone] + n[gone] - 1]
    return ts, owner, PurchaseTruth(n_orders=n.astype(np.int64), alive_at_end=alive,
                                    dropout_s=dropout_s)


def _type_column(name: str) -> np.ndarray:
    return np.array([getattr(t, name) for t in m.TYPES])


def draw_orders(rng: np.random.Generator, customers: Customers, calendar: m.Calendar
                ) -> tuple[Orders, PurchaseTruth]:
    """Draw the chunk's orders, their lines and a few percent of guest orders."""
    ts, owner, truth = purchase_times(rng, customers, calendar)
    n_customer_orders = len(ts)
    n_guest = int(rng.binomial(n_customer_orders, m.GUEST_ORDER_SHARE / (1 - m.GUEST_ORDER_SHARE)))
    guest_ts = np.floor(calendar.unwarp(rng.random(n_guest) * calendar.total)).astype(np.int64)
    guest_ts = np.minimum(guest_ts, calendar.end_s - 1)

    ts = np.concatenate([ts, guest_ts])
    customer = np.concatenate([owner, np.full(n_guest, GUEST, dtype=np.int64)])
    is_guest = customer == GUEST
    latent = np.where(is_guest, _OCCASIONAL, customers.latent_type[np.maximum(customer, 0)])
    latent = latent.astype(np.int8)
    mean_value = np.where(is_guest, m.GUEST_ORDER_VALUE_MEAN,
                          customers.order_value[np.maximum(customer, 0)])
    region = np.where(is_guest, m.categorical(rng, m.REGION_WEIGHTS, None, len(ts)),
                      customers.region[np.maximum(customer, 0)]).astype(np.int8)
    mix = np.where(is_guest[:, None], np.array([[0.45, 0.25, 0.30]]),
                   customers.channel_mix[np.maximum(customer, 0)])
    u = rng.random(len(ts))
    channel = ((u >= mix[:, 0]).astype(np.int8) + (u >= mix[:, 0] + mix[:, 1])).astype(np.int8)
    del mix
    web_device = m.categorical(rng, m.WEB_DEVICE_MIX, None, len(ts))
    app_device = m.categorical(rng, m.APP_DEVICE_MIX, None, len(ts))
    device = np.select([channel == 0, channel == 1], [web_device, app_device], -1).astype(np.int8)
    status = np.zeros(len(ts), dtype=np.int8)
    status[rng.random(len(ts)) < _type_column("return_prob")[latent]] = 1
    status[rng.random(len(ts)) < m.CANCEL_PROB] = 2
    value = rng.gamma(m.ORDER_VALUE_SHAPE, mean_value / m.ORDER_VALUE_SHAPE)

    order = np.argsort(ts, kind="stable")
    ts, customer, latent, region = ts[order], customer[order], latent[order], region[order]
    channel, device, status, value = channel[order], device[order], status[order], value[order]

    n_lines = (m.categorical(rng, m.LINES_PER_ORDER, None, len(ts)) + 1).astype(np.int64)
    line_order = np.repeat(np.arange(len(ts), dtype=np.int64), n_lines)
    first_line = np.cumsum(n_lines) - n_lines
    line_no = (np.arange(len(line_order)) - np.repeat(first_line, n_lines) + 1).astype(np.int8)
    line_type = latent[line_order]
    category = m.categorical(rng, np.array([t.category_pref for t in m.TYPES]), line_type,
                             len(line_order))
    rank = np.floor(m.PRODUCTS_PER_CATEGORY * rng.random(len(line_order)) ** 2.5)
    product = (category.astype(np.int16) * m.PRODUCTS_PER_CATEGORY + rank).astype(np.int16)
    grocery = category == m.CATEGORIES.index("Grocery")
    quantity = 1 + rng.poisson(np.where(grocery, 1.2, 0.3))
    has_discount = rng.random(len(line_order)) < _type_column("discount_prob")[line_type]
    fraction = np.where(
        has_discount,
        m.DISCOUNT_FRACTIONS[rng.integers(0, len(m.DISCOUNT_FRACTIONS), len(line_order))],
        0.0,
    )
    share = rng.gamma(2.0, 1.0, len(line_order))
    share /= np.bincount(line_order, weights=share, minlength=len(ts))[line_order]
    net = value[line_order] * share
    unit_price = np.maximum(np.round(net / (1.0 - fraction) / quantity, 2), 0.5)
    discount = np.round(quantity * unit_price * fraction, 2)
    revenue = np.round(quantity * unit_price - discount, 2)
    orders = Orders(
        ts=ts, customer=customer, channel=channel, device=device, status=status,
        region=region, latent_type=latent, line_order=line_order, line_no=line_no,
        category=category, product=product, quantity=quantity.astype(np.int64),
        unit_price=unit_price, discount=discount, revenue=revenue,
    )
    return orders, truth


_PRODUCT_IDS: pa.Array | None = None


def _product_ids() -> pa.Array:
    global _PRODUCT_IDS
    if _PRODUCT_IDS is None:
        _PRODUCT_IDS = fixed_ids("P", np.arange(len(m.CATEGORIES) * m.PRODUCTS_PER_CATEGORY), 5)
    return _PRODUCT_IDS


def orders_table(orders: Orders, customers: Customers, order_numbers: np.ndarray,
                 lines: np.ndarray | None = None) -> pa.Table:
    """The canonical ``orders`` table (one row per line) for the lines selected by
    ``lines`` (all when None). ``ts`` is ``timestamp[s]``; labels are dictionary-encoded."""
    if lines is None:
        lines = np.arange(len(orders.line_order))
    pos = orders.line_order[lines]
    owner = orders.customer[pos]
    n = len(lines)
    return pa.table({
        "order_id": fixed_ids("O", order_numbers[pos], 10),
        "line_id": labels(orders.line_no[lines] - 1, ("1", "2", "3", "4", "5")),
        "customer_id": fixed_ids("C", customers.number[np.maximum(owner, 0)], 8, owner != GUEST),
        "ts": timestamps(orders.ts[pos]),
        "product_id": pa.DictionaryArray.from_arrays(
            pa.array(orders.product[lines]), _product_ids()),
        "category": labels(orders.category[lines], m.CATEGORIES),
        "quantity": pa.array(orders.quantity[lines]),
        "unit_price": pa.array(orders.unit_price[lines]),
        "discount": pa.array(orders.discount[lines]),
        "revenue": pa.array(orders.revenue[lines]),
        "currency": labels(np.zeros(n, dtype=np.int8), ("USD",)),
        "channel": labels(orders.channel[pos], m.ORDER_CHANNELS),
        "device": labels(orders.device[pos], m.DEVICES),
        "region": labels(orders.region[pos], m.REGIONS),
        "status": labels(orders.status[pos], m.STATUSES),
    })


def ground_truth_table(customers: Customers, orders: Orders, truth: PurchaseTruth) -> pa.Table:
    """Per-customer truth: the latent type and parameters, and what they produced."""
    size = len(customers)
    owner = orders.customer
    known = owner != GUEST
    completed = known & (orders.status == 0)
    line_owner = owner[orders.line_order]
    line_completed = completed[orders.line_order]
    revenue = np.bincount(line_owner[line_completed], weights=orders.revenue[line_completed],
                          minlength=size)
    n_completed = np.bincount(owner[completed], minlength=size)
    first = np.full(size, np.iinfo(np.int64).max)
    last = np.full(size, -1, dtype=np.int64)
    np.minimum.at(first, owner[known], orders.ts[known])
    np.maximum.at(last, owner[known], orders.ts[known])
    has = truth.n_orders > 0
    lam, p = customers.purchase_rate, customers.dropout_prob
    # E[orders in t days | alive] for BG/NBD: lambda * E[min(T_dropout, t)] = (1-e^{-lam p t})/p
    expected = np.where(truth.alive_at_end, -np.expm1(-lam * p * 365.0) / p, 0.0)
    gone = ~truth.alive_at_end
    return pa.table({
        "customer_id": fixed_ids("C", customers.number, 8),
        "latent_type": labels(customers.latent_type, m.TYPE_NAMES),
        "signup_date": dates(customers.signup_s),
        "region": labels(customers.region, m.REGIONS),
        "purchase_rate_per_day": pa.array(lam),
        "dropout_prob": pa.array(p),
        "mean_order_value": pa.array(customers.order_value),
        "alive_at_end": pa.array(truth.alive_at_end),
        "dropout_date": dates(np.maximum(truth.dropout_s, 0), gone),
        "dropout_ts": timestamps(np.maximum(truth.dropout_s, 0), gone),
        "n_orders": pa.array(truth.n_orders),
        "n_completed_orders": pa.array(n_completed.astype(np.int64)),
        "revenue_completed": pa.array(np.round(revenue, 2)),
        "first_order_ts": timestamps(np.where(has, first, 0), has),
        "last_order_ts": timestamps(np.maximum(last, 0), has),
        "expected_orders_next_365d": pa.array(expected),
        "expected_revenue_next_365d": pa.array(expected * customers.order_value),
    })
