"""The latent customer types, their behavioural parameters and the shopping calendar.

Everything the generator knows about *how customers behave* lives here as plain
constants, so the ground truth a model is evaluated against can be read in one place.

Purchasing follows the BG/NBD story (Fader, Hardie & Lee 2005, "Counting your customers
the easy way"): while alive, a customer buys as a Poisson process with rate
``lambda ~ Gamma(r, alpha)`` (orders per day); after every order the customer drops out
with probability ``p ~ Beta(a, b)``. Order value follows Gamma-Gamma (Fader, Hardie & Lee
2005, "RFM and CLV"): spend per order ``z ~ Gamma(q, nu)`` with ``nu ~ Gamma(g, rate)``, so
a customer's mean order value ``q / nu`` (currency) is fixed and orders vary around it.
Seasonality (a November/December peak, a weekly and a daily rhythm) enters by warping
time: the Poisson process runs on *effective days* whose density follows the calendar,
which is exact for a piecewise-constant intensity and wastes no draws (unlike thinning,
which it is equivalent to).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86_400

TYPE_NAMES: tuple[str, ...] = (
    "loyal_high_value",
    "discount_driven",
    "churn_prone",
    "new",
    "occasional",
)
NEW_TYPE = TYPE_NAMES.index("new")
CHURN_PRONE_TYPE = TYPE_NAMES.index("churn_prone")
#: Share of customers of each latent type.
TYPE_WEIGHTS = np.array([0.15, 0.20, 0.20, 0.10, 0.35])
#: ``new`` customers sign up within this many days before the end of the window.
NEW_SIGNUP_DAYS = 120


@dataclass(frozen=True)
class TypeParams:
    """Behaviour of one latent type. Rates are per day; money is in currency units."""

    rate_shape: float  # r of lambda ~ Gamma(r, alpha)
    rate_mean: float  # r / alpha, orders per day
    dropout_a: float  # p ~ Beta(a, b)
    dropout_b: float
    order_value_mean: float  # E[q / nu], currency per order
    channel_mix: tuple[float, float, float]  # web, app, store
    category_pref: tuple[float, ...]  # one weight per CATEGORIES entry
    discount_prob: float  # share of order lines with a discount
    return_prob: float  # share of orders returned
    conversion: float  # desktop session conversion rate
    tickets_per_year: float
    pre_dropout_tickets: float  # extra tickets expected around the drop-out
    satisfaction: tuple[float, ...]  # P(score = 1..5)
    posts_per_year: float
    pre_dropout_posts: float
    sentiment: tuple[float, float, float]  # P(positive, neutral, negative)
    email_opt_in: float
    touches_per_year: float
    open_rate: float
    click_rate: float  # given opened
    convert_rate: float  # given clicked


CATEGORIES: tuple[str, ...] = (
    "Electronics",
    "Apparel",
    "Home",
    "Beauty",
    "Sports",
    "Books",
    "Grocery",
    "Toys",
)
PRODUCTS_PER_CATEGORY = 500

TYPES: tuple[TypeParams, ...] = (
    TypeParams(  # loyal_high_value
        rate_shape=4.0, rate_mean=0.11, dropout_a=1.0, dropout_b=250.0,
        order_value_mean=140.0, channel_mix=(0.35, 0.45, 0.20),
        category_pref=(0.25, 0.15, 0.15, 0.10, 0.12, 0.08, 0.08, 0.07),
        discount_prob=0.08, return_prob=0.05, conversion=0.32,
        tickets_per_year=0.25, pre_dropout_tickets=0.3,
        satisfaction=(0.03, 0.05, 0.12, 0.35, 0.45),
        posts_per_year=0.35, pre_dropout_posts=0.3, sentiment=(0.70, 0.22, 0.08),
        email_opt_in=0.75, touches_per_year=6.0,
        open_rate=0.45, click_rate=0.30, convert_rate=0.20,
    ),
    TypeParams(  # discount_driven
        rate_shape=3.0, rate_mean=0.07, dropout_a=1.2, dropout_b=120.0,
        order_value_mean=55.0, channel_mix=(0.50, 0.35, 0.15),
        category_pref=(0.10, 0.22, 0.12, 0.16, 0.10, 0.06, 0.16, 0.08),
        discount_prob=0.60, return_prob=0.09, conversion=0.24,
        tickets_per_year=0.35, pre_dropout_tickets=0.5,
        satisfaction=(0.06, 0.10, 0.24, 0.35, 0.25),
        posts_per_year=0.30, pre_dropout_posts=0.5, sentiment=(0.45, 0.37, 0.18),
        email_opt_in=0.85, touches_per_year=8.0,
        open_rate=0.35, click_rate=0.35, convert_rate=0.25,
    ),
    TypeParams(  # churn_prone
        rate_shape=2.0, rate_mean=0.09, dropout_a=3.0, dropout_b=14.0,
        order_value_mean=60.0, channel_mix=(0.50, 0.25, 0.25),
        category_pref=(0.14, 0.18, 0.12, 0.12, 0.12, 0.10, 0.12, 0.10),
        discount_prob=0.15, return_prob=0.12, conversion=0.15,
        tickets_per_year=0.9, pre_dropout_tickets=1.5,
        satisfaction=(0.25, 0.25, 0.25, 0.15, 0.10),
        posts_per_year=0.30, pre_dropout_posts=1.0, sentiment=(0.20, 0.30, 0.50),
        email_opt_in=0.45, touches_per_year=5.0,
        open_rate=0.15, click_rate=0.15, convert_rate=0.08,
    ),
    TypeParams(  # new
        rate_shape=2.0, rate_mean=0.08, dropout_a=1.5, dropout_b=25.0,
        order_value_mean=70.0, channel_mix=(0.45, 0.40, 0.15),
        category_pref=(0.15, 0.15, 0.13, 0.12, 0.12, 0.10, 0.12, 0.11),
        discount_prob=0.20, return_prob=0.07, conversion=0.20,
        tickets_per_year=0.5, pre_dropout_tickets=0.5,
        satisfaction=(0.06, 0.08, 0.20, 0.36, 0.30),
        posts_per_year=0.8, pre_dropout_posts=0.5, sentiment=(0.50, 0.35, 0.15),
        email_opt_in=0.60, touches_per_year=8.0,
        open_rate=0.40, click_rate=0.25, convert_rate=0.12,
    ),
    TypeParams(  # occasional
        rate_shape=1.5, rate_mean=0.04, dropout_a=1.0, dropout_b=60.0,
        order_value_mean=45.0, channel_mix=(0.40, 0.20, 0.40),
        category_pref=(0.12, 0.12, 0.14, 0.10, 0.10, 0.16, 0.14, 0.12),
        discount_prob=0.12, return_prob=0.06, conversion=0.18,
        tickets_per_year=0.15, pre_dropout_tickets=0.3,
        satisfaction=(0.05, 0.08, 0.25, 0.37, 0.25),
        posts_per_year=0.12, pre_dropout_posts=0.3, sentiment=(0.40, 0.42, 0.18),
        email_opt_in=0.50, touches_per_year=4.0,
        open_rate=0.25, click_rate=0.20, convert_rate=0.10,
    ),
)

#: Per-order spend shape q of Gamma-Gamma; larger means orders closer to the mean.
ORDER_VALUE_SHAPE = 4.0
#: Shape g of nu ~ Gamma(g, rate) across customers of one type.
ORDER_VALUE_SPREAD = 6.0
#: P(order has 1..5 lines).
LINES_PER_ORDER = np.array([0.32, 0.26, 0.20, 0.13, 0.09])
DISCOUNT_FRACTIONS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.50])
CANCEL_PROB = 0.025
#: Share of orders placed by guests (no customer_id).
GUEST_ORDER_SHARE = 0.03
GUEST_ORDER_VALUE_MEAN = 60.0

REGIONS: tuple[str, ...] = ("EU", "NA", "APAC", "LATAM")
REGION_WEIGHTS = np.array([0.35, 0.35, 0.20, 0.10])
COUNTRIES: dict[str, tuple[str, ...]] = {
    "EU": ("DE", "FR", "GB", "ES", "IT", "NL", "SE", "PL"),
    "NA": ("US", "CA"),
    "APAC": ("JP", "AU", "SG", "IN", "KR"),
    "LATAM": ("BR", "MX", "AR", "CL", "CO"),
}
COUNTRY_WEIGHTS: dict[str, tuple[float, ...]] = {
    "EU": (0.25, 0.18, 0.18, 0.12, 0.11, 0.07, 0.04, 0.05),
    "NA": (0.85, 0.15),
    "APAC": (0.30, 0.25, 0.10, 0.25, 0.10),
    "LATAM": (0.45, 0.25, 0.12, 0.09, 0.09),
}
ACQUISITION_CHANNELS: tuple[str, ...] = (
    "organic", "paid_search", "social", "referral", "email", "affiliate",
)
#: P(acquisition channel) per type, rows in TYPE_NAMES order.
ACQUISITION_MIX = np.array([
    [0.40, 0.15, 0.10, 0.25, 0.07, 0.03],
    [0.15, 0.25, 0.15, 0.05, 0.15, 0.25],
    [0.20, 0.30, 0.25, 0.05, 0.05, 0.15],
    [0.25, 0.25, 0.25, 0.10, 0.05, 0.10],
    [0.35, 0.20, 0.15, 0.10, 0.10, 0.10],
])
GENDERS: tuple[str, ...] = ("female", "male", "non-binary")
GENDER_WEIGHTS = np.array([0.50, 0.46, 0.04])
GENDER_MISSING = 0.08
BIRTH_YEAR_MISSING = 0.05

ORDER_CHANNELS: tuple[str, ...] = ("web", "app", "store")
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet")
#: P(device) for web and for app orders (store orders have no device).
WEB_DEVICE_MIX = np.array([0.55, 0.35, 0.10])
APP_DEVICE_MIX = np.array([0.0, 0.85, 0.15])
#: Session conversion relative to desktop.
DEVICE_CONVERSION = np.array([1.0, 0.55, 0.8])
STATUSES: tuple[str, ...] = ("completed", "returned", "cancelled")

#: Share of online orders whose session the web analytics recorded.
TRACKED_ORDER_SHARE = 0.1
#: Sessions from customers without orders, per customer.
WINDOW_SHOPPING_SESSIONS = 1.0
#: Anonymous sessions, as a share of identified sessions.
ANONYMOUS_SESSION_SHARE = 0.2
TRAFFIC_SOURCES: tuple[tuple[str, str], ...] = (
    ("google", "organic"),
    ("google", "cpc"),
    ("newsletter", "email"),
    ("facebook", "social"),
    ("instagram", "social"),
    ("direct", "none"),
    ("affiliate", "referral"),
)
TRAFFIC_MIX = np.array([
    [0.30, 0.10, 0.20, 0.05, 0.05, 0.28, 0.02],
    [0.15, 0.20, 0.25, 0.08, 0.07, 0.10, 0.15],
    [0.25, 0.25, 0.05, 0.12, 0.13, 0.15, 0.05],
    [0.25, 0.25, 0.10, 0.12, 0.13, 0.10, 0.05],
    [0.35, 0.15, 0.10, 0.08, 0.07, 0.20, 0.05],
])

TICKET_CATEGORIES: tuple[str, ...] = (
    "delivery", "returns", "billing", "product", "account", "technical",
)
TICKET_CATEGORY_MIX = np.array([0.30, 0.20, 0.15, 0.18, 0.10, 0.07])
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "urgent")
PRIORITY_MIX = np.array([0.35, 0.40, 0.20, 0.05])
#: Median hours to resolve a ticket, by priority.
RESOLUTION_HOURS = np.array([48.0, 24.0, 8.0, 3.0])
UNRESOLVED_SHARE = 0.03

POST_KINDS: tuple[str, ...] = ("post", "review", "comment")
POST_KIND_MIX = np.array([0.35, 0.40, 0.25])
SOCIAL_PLATFORMS: tuple[str, ...] = ("twitter", "instagram", "facebook", "tiktok", "reddit")
REVIEW_PLATFORMS: tuple[str, ...] = ("trustpilot", "app_store", "google_play", "website")
ANONYMOUS_POST_SHARE = 0.10

MARKETING_KINDS: tuple[str, ...] = ("email", "push", "sms", "ad")
MARKETING_CODES: tuple[str, ...] = ("EM", "PU", "SM", "AD")
#: Day of week each kind of campaign goes out (0 = Monday) and its base hour.
MARKETING_WEEKDAY = np.array([1, 3, 4, 5])
MARKETING_HOUR = np.array([9, 18, 12, 10])
#: P(kind) for opted-in customers; opted-out customers get no email.
MARKETING_MIX_OPT_IN = np.array([0.60, 0.20, 0.08, 0.12])
MARKETING_MIX_OPT_OUT = np.array([0.0, 0.50, 0.15, 0.35])

# Calendar rhythm (relative purchase intensity; normalised to mean 1 over the window).
MONTH_FACTOR = np.array([0.85, 0.80, 0.90, 0.92, 0.95, 0.92, 0.90, 0.95, 0.97, 1.05, 1.45, 1.70])
WEEKDAY_FACTOR = np.array([0.95, 0.92, 0.95, 1.0, 1.08, 1.10, 1.0])  # Monday..Sunday
HOUR_FACTOR = np.array([
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.55, 0.85, 1.05, 1.15, 1.25,
    1.35, 1.30, 1.20, 1.15, 1.15, 1.25, 1.45, 1.65, 1.75, 1.55, 1.05, 0.50,
])


class Calendar:
    """Maps wall-clock seconds to *effective days* of shopping intensity and back.

    ``warp(t)`` is the integral of the calendar intensity from the window start to ``t``
    (days, with mean intensity 1, so a year still holds ~365 effective days);
    ``unwarp`` inverts it. Both are exact on the hourly piecewise-constant intensity.
    """

    def __init__(self, start_s: int, end_s: int) -> None:
        self.start_s = start_s
        self.end_s = end_s  # exclusive: midnight after the last day
        hours = np.arange(start_s, end_s + 3600, 3600, dtype=np.int64)
        hour_starts = hours[:-1].astype("datetime64[s]")
        month = hour_starts.astype("datetime64[M]").astype(np.int64) % 12
        day = hour_starts.astype("datetime64[D]").astype(np.int64)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        hour = (hours[:-1] // 3600) % 24
        intensity = MONTH_FACTOR[month] * WEEKDAY_FACTOR[weekday] * HOUR_FACTOR[hour]
        intensity /= intensity.mean()
        self.grid_s = hours.astype(np.float64)
        self.grid_w = np.concatenate([[0.0], np.cumsum(intensity) / 24.0])

    def warp(self, seconds: np.ndarray) -> np.ndarray:
        """Effective days elapsed from the window start to ``seconds`` (epoch seconds)."""
        return np.interp(seconds, self.grid_s, self.grid_w)

    def unwarp(self, effective_days: np.ndarray) -> np.ndarray:
        """Epoch seconds (float) at which ``effective_days`` of intensity have elapsed."""
        return np.interp(effective_days, self.grid_w, self.grid_s)

    @property
    def total(self) -> float:
        """Effective days in the whole window."""
        return float(self.grid_w[-1])


def categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray | None,
                size: int) -> np.ndarray:
    """Draw ``size`` category indices (int8).

    ``probs`` is one probability vector, or a matrix whose row ``rows[i]`` gives the
    probabilities of draw ``i`` (e.g. per latent type).
    """
    u = rng.random(size)
    if probs.ndim == 1:
        cum = np.cumsum(probs[:-1]) / probs.sum()
        return np.searchsorted(cum, u, side="right").astype(np.int8)
    cum = np.cumsum(probs, axis=1)
    cum = cum[:, :-1] / cum[:, -1:]
    assert rows is not None
    out = np.zeros(size, dtype=np.int8)
    for k in range(cum.shape[1]):
        out += u >= cum[rows, k]
    return out
