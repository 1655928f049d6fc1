"""The Streamlit dashboard: ``patron dashboard`` runs :data:`APP` with ``streamlit run``.

Pages live in ``views/`` (one script each, also runnable alone, which is how the tests
render them); all their queries live in :mod:`patron.apps.dashboard._data`.
"""

from __future__ import annotations

from pathlib import Path

#: the Streamlit entry script
APP = Path(__file__).with_name("app.py")
#: (script in views/, title, Material icon, URL path), in navigation order
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("segments.py", "Segments", ":material/donut_small:", "segments"),
    ("churn.py", "Churn risk", ":material/warning:", "churn"),
    ("customer.py", "Customer 360", ":material/person_search:", "customer"),
    ("cohorts.py", "Cohorts", ":material/grid_on:", "cohorts"),
    ("clv.py", "Lifetime value", ":material/savings:", "clv"),
    ("insights.py", "Insights", ":material/insights:", "insights"),
    ("quality.py", "Data quality", ":material/fact_check:", "quality"),
    ("models.py", "Models", ":material/model_training:", "models"),
)
VIEWS = Path(__file__).with_name("views")
