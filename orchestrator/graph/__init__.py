"""`gwlab graph`: a picture of the lab (`model`: what is drawn, from the topology and, with --live,
from the running lab; `render`: mermaid, Graphviz dot, or SVG drawn here without external tools)."""
