"""The Insights dashboards' entry point (`sei dashboards` runs `streamlit run` on it).
One page per insight, each a file under views/ (not pages/: that name would turn on Streamlit's older automatic page list beside st.navigation); every page reads only the viewer's data
(dashboards/data.py)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run dashboards/app.py` from anywhere imports the project
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

HERE = Path(__file__).resolve().parent
PAGES = [
    ("views/dora.py", "DORA", "dora"),
    ("views/sprints.py", "Sprint Insights", "sprints"),
    ("views/productivity.py", "Developer Productivity", "productivity"),
    ("views/alignment.py", "Business Alignment", "alignment"),
    ("views/goals.py", "Goals", "goals"),
    ("views/health.py", "Data health", "health"),
]

st.set_page_config(page_title="SEI Insights", layout="wide")
nav = st.navigation([st.Page(str(HERE / f), title=t, url_path=u, default=(i == 0))
                     for i, (f, t, u) in enumerate(PAGES)])
nav.run()
