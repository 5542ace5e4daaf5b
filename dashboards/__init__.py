"""The Insights dashboards: a Streamlit app reading only the viewer's published scope
(`sei dashboards`, docs/dashboards.md)."""
