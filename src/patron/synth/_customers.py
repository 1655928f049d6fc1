"""Customers of one chunk: attributes, latent type and their true purchasing parameters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.synth import _model as m
from patron.synth._writers import dates, fixed_ids, labels, timestamps


@dataclass
class Customers:
    """One chunk of customers as parallel NumPy arrays (times in epoch seconds)."""

    number: np.ndarray  # int64, 1-based global customer number (customer_id = C########)
    latent_type: np.ndarray  # int8 index into TYPE_NAMES
    signup_s: np.ndarray  # int64
    updated_s: np.ndarray  # int64, time of the CRM record version
    region: np.ndarray  # int8 index into REGIONS
    country: np.ndarray  # int16 index into ALL_COUNTRIES
    acquisition: np.ndarray  # int8 index into ACQUISITION_CHANNELS
    birth_year: np.ndarray  # float64, NaN when unknown
    gender: np.ndarray  # int8 index into GENDERS, -1 when unknown
    email_opt_in: np.ndarray  # bool
    purchase_rate: np.ndarray  # lambda, orders per day while alive
    dropout_prob: np.ndarray  # p, chance of dropping out after each order
    order_value: np.ndarray  # q / nu, mean spend per order (currency)
    channel_mix: np.ndarray  # (n, 3) P(web, app, store) of this customer

    def __len__(self) -> int:
        return len(self.number)


ALL_COUNTRIES: tuple[str, ...] = tuple(c for r in m.REGIONS for c in m.COUNTRIES[r])
_COUNTRY_OFFSET = np.cumsum([0] + [len(m.COUNTRIES[r]) for r in m.REGIONS])[:-1]
_COUNTRY_PROBS = np.zeros((len(m.REGIONS), max(len(v) for v in m.COUNTRIES.values())))
for _i, _r in enumerate(m.REGIONS):
    _COUNTRY_PROBS[_i, : len(m.COUNTRIES[_r])] = m.COUNTRY_WEIGHTS[_r]


def draw_customers(rng: np.random.Generator, first_number: int, size: int,
                   calendar: m.Calendar, end_year: int) -> Customers:
    """Draw ``size`` customers numbered from ``first_number``."""
    types = m.categorical(rng, m.TYPE_WEIGHTS, None, size)
    params = m.TYPES
    start_s, end_s = calendar.start_s, calendar.end_s
    new_from = max(start_s, end_s - m.NEW_SIGNUP_DAYS * m.SECONDS_PER_DAY)
    is_new = types == m.NEW_TYPE
    lo = np.where(is_new, new_from, start_s)
    signup = lo + np.floor(rng.random(size) * (end_s - lo)).astype(np.int64)
    profile_age = rng.exponential(60.0, size) * m.SECONDS_PER_DAY
    updated = np.minimum(signup + profile_age.astype(np.int64), end_s - 1)

    region = m.categorical(rng, m.REGION_WEIGHTS, None, size)
    country = _COUNTRY_OFFSET[region] + m.categorical(rng, _COUNTRY_PROBS, region, size)
    acquisition = m.categorical(rng, m.ACQUISITION_MIX, types, size)
    age = np.clip(rng.normal(40.0, 13.0, size), 18, 85)
    birth_year = np.floor(end_year - age)
    birth_year[rng.random(size) < m.BIRTH_YEAR_MISSING] = np.nan
    gender = m.categorical(rng, m.GENDER_WEIGHTS, None, size)
    gender[rng.random(size) < m.GENDER_MISSING] = -1
    opt_in_prob = np.array([t.email_opt_in for t in params])[types]
    opt_in = rng.random(size) < opt_in_prob

    rate_shape = np.array([t.rate_shape for t in params])[types]
    rate_mean = np.array([t.rate_mean for t in params])[types]
    purchase_rate = np.maximum(rng.gamma(rate_shape, rate_mean / rate_shape), 1e-5)
    drop_a = np.array([t.dropout_a for t in params])[types]
    drop_b = np.array([t.dropout_b for t in params])[types]
    dropout = np.clip(rng.beta(drop_a, drop_b), 1e-4, 0.999)
    value_mean = np.array([t.order_value_mean for t in params])[types]
    g = m.ORDER_VALUE_SPREAD
    nu = rng.gamma(g, 1.0 / (value_mean * (g - 1.0) / m.ORDER_VALUE_SHAPE))
    order_value = m.ORDER_VALUE_SHAPE / nu

    mix = np.array([t.channel_mix for t in params])[types] * 8.0
    channel_mix = rng.gamma(mix)
    channel_mix /= channel_mix.sum(axis=1, keepdims=True)

    return Customers(
        number=np.arange(first_number, first_number + size, dtype=np.int64),
        latent_type=types,
        signup_s=signup,
        updated_s=updated,
        region=region,
        country=country.astype(np.int16),
        acquisition=acquisition,
        birth_year=birth_year,
        gender=gender,
        email_opt_in=opt_in,
        purchase_rate=purchase_rate,
        dropout_prob=dropout,
        order_value=order_value,
        channel_mix=channel_mix,
    )


def customers_table(customers: Customers) -> pa.Table:
    """The canonical ``customers`` table (CRM export) of a chunk."""
    birth = customers.birth_year
    return pa.table({
        "customer_id": fixed_ids("C", customers.number, 8),
        "signup_date": dates(customers.signup_s),
        "region": labels(customers.region, m.REGIONS),
        "country": labels(customers.country, ALL_COUNTRIES),
        "channel": labels(customers.acquisition, m.ACQUISITION_CHANNELS),
        "birth_year": pa.array(np.nan_to_num(birth).astype(np.int64), mask=np.isnan(birth)),
        "gender": labels(customers.gender, m.GENDERS),
        "email_opt_in": pa.array(customers.email_opt_in),
        "updated_at": timestamps(customers.updated_s),
    })


def crm_updates(rng: np.random.Generator, customers: Customers, count: int, end_s: int
                 ) -> list[list[object]]:
    """Later CRM versions of ``count`` customers: opt-in flips, moves, filled gaps."""
    eligible = np.flatnonzero(customers.updated_s < end_s - m.SECONDS_PER_DAY)
    count = min(count, len(eligible))
    if count == 0:
        return []
    picked = np.sort(rng.choice(eligible, size=count, replace=False))
    rows = []
    for i in picked:
        opt_in = bool(customers.email_opt_in[i])
        country = int(customers.country[i])
        birth = customers.birth_year[i]
        change = rng.random()
        if change < 0.7:
            opt_in = not opt_in
        elif change < 0.85:
            # moved: mostly within the region, sometimes abroad
            home = m.REGIONS[int(customers.region[i])]
            pool = m.COUNTRIES[home] if rng.random() < 0.7 else ALL_COUNTRIES
            peers = [ALL_COUNTRIES.index(c) for c in pool if c != ALL_COUNTRIES[country]]
            country = int(rng.choice(peers))
        elif np.isnan(birth):
            birth = float(1960 + rng.integers(0, 45))
        else:
            opt_in = not opt_in
        after = int(customers.updated_s[i])
        updated = after + int(rng.random() * (end_s - 1 - after))
        country_name = ALL_COUNTRIES[country]
        region_name = next(r for r, cs in m.COUNTRIES.items() if country_name in cs)
        gender = int(customers.gender[i])
        rows.append([
            f"C{int(customers.number[i]):08d}",
            dt.date(1970, 1, 1) + dt.timedelta(days=int(customers.signup_s[i]) // 86_400),
            region_name,
            country_name,
            m.ACQUISITION_CHANNELS[int(customers.acquisition[i])],
            None if np.isnan(birth) else int(birth),
            None if gender < 0 else m.GENDERS[gender],
            opt_in,
            dt.datetime(1970, 1, 1) + dt.timedelta(seconds=updated),
        ])
    return rows
