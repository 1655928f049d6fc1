"""Models: registry versions with metrics, confusion matrix and calibration."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps._registry import model_evaluation, registry_path
from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import guarded, lake_db


def page() -> None:
    st.title("Models")
    models = _data.registry_models(lake_db())  # files, not lake commits: not cached
    if models.empty:
        st.info(f"No trained models in {registry_path(lake_db())} yet — produce them with "
                "`patron train`.")
        return
    st.metric("Model versions", len(models))
    st.dataframe(models.drop(columns=["path"], errors="ignore"), hide_index=True,
                 width="stretch")
    labels = [f"{r['model_version']}{' (promoted)' if r.get('promoted') else ''}"
              for r in models.to_dict("records")]
    chosen = st.selectbox("Model", range(len(labels)), format_func=lambda i: labels[i],
                          key="models_pick")
    tables = model_evaluation(models.iloc[int(chosen)]["path"])
    if not tables:
        st.caption("No evaluation saved with this version.")
        return
    left, right = st.columns(2)
    confusion = tables.get("confusion_at_capacity")
    if confusion is not None and not confusion.empty:
        matrix = confusion.set_index(confusion.columns[0])
        left.plotly_chart(px.imshow(matrix, text_auto=True,
                                    title="Confusion matrix (at the campaign capacity)",
                                    labels={"x": "predicted", "y": "actual"}),
                          width="stretch")
    calibration = tables.get("calibration")
    if calibration is not None and {"mean_predicted", "observed_rate"} <= set(calibration):
        fig = px.line(calibration, x="mean_predicted", y="observed_rate", markers=True,
                      title="Calibration (equal-count bins)")
        fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot"})
        right.plotly_chart(fig, width="stretch")
    deciles = tables.get("deciles")
    if deciles is not None and not deciles.empty:
        st.dataframe(deciles, hide_index=True, width="stretch")


guarded(page)
