"""Plotly figure builders, one function per chart, each returning a ``go.Figure``.

The dashboard, the HTML report and notebooks share them, so a chart looks the same
everywhere. Builders take small, already-aggregated pandas frames and do no queries.
"""
