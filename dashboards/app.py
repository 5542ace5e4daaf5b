"""The Insights dashboards' entry point (`sei dashboards` runs `streamlit run` on it).
One page per insight, each a file under pages/; every page reads only the viewer's data
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
    ("pages/dora.py", "DORA", "dora"),
    ("pages/sprints.py", "Sprint Insights", "sprints"),
    ("pages/productivity.py", "Developer Productivity", "productivity"),
    ("pages/alignment.py", "Business Alignment", "alignment"),
    ("pages/goals.py", "Goals", "goals"),
    ("pages/health.py", "Data health", "health"),
]

st.set_page_config(page_title="SEI Insights", layout="wide")
nav = st.navigation([st.Page(str(HERE / f), title=t, url_path=u, default=(i == 0))
                     for i, (f, t, u) in enumerate(PAGES)])
nav.run()
