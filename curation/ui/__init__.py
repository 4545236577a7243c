"""Streamlit widgets shared by pages; the only place outside pages/ that imports Streamlit."""
