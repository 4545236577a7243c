"""Entry page: the app's navigation; Home (pick or create a project, the pipeline) comes first.

Every page runs inside `run_guarded`: a failure reaches the visitor as one sentence, never a traceback."""

import streamlit as st
from PIL import Image, ImageDraw

from curation.ui.guard import run_guarded


def app_icon() -> Image.Image:
    """The tab's icon, drawn here: a ":material/...:" icon makes the browser fetch it from
    fonts.gstatic.com, and the app requests nothing outside itself."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((4, 8, 60, 56), radius=8, fill=(38, 99, 235, 255))
    draw.polygon([(10, 50), (26, 28), (36, 40), (44, 32), (54, 50)], fill=(255, 255, 255, 255))
    draw.ellipse((40, 14, 50, 24), fill=(255, 255, 255, 255))
    return icon


st.set_page_config(page_title="Curation Studio", page_icon=app_icon(), layout="wide")
navigation = st.navigation([
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("app_pages/team.py", title="Team", icon=":material/group:", url_path="team"),
    st.Page("app_pages/gather.py", title="Gather", icon=":material/travel_explore:", url_path="gather"),
    st.Page("app_pages/review.py", title="Review", icon=":material/grid_view:", url_path="review"),
    st.Page("app_pages/faces.py", title="Faces", icon=":material/face:", url_path="faces"),
    st.Page("app_pages/clusters.py", title="Clusters", icon=":material/hub:", url_path="clusters"),
    st.Page("app_pages/map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    st.Page("app_pages/quality.py", title="Quality", icon=":material/troubleshoot:", url_path="quality"),
    st.Page("app_pages/failed_files.py", title="Failed files", icon=":material/broken_image:", url_path="failed"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/grid_on:", url_path="evaluate"),
    st.Page("app_pages/audit.py", title="Audit", icon=":material/balance:", url_path="audit"),
])
run_guarded(navigation.run)
