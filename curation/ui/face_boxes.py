"""An image's faces in Review's detail view: boxes drawn on the picture, and what was found.

Kept apart from the Faces page's parts so that Review does not import the networks.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from ..store import Store
from .text import md_text

BOX_COLOUR = (255, 196, 0)


def with_faces(store: Store, image: dict, picture: Image.Image) -> tuple[Image.Image, str]:
    """The picture with its faces' boxes and numbers drawn, and a line saying what was found."""
    scan, faces = store.image_faces(int(image["id"]))
    if scan is None:
        return picture, "Faces: not searched yet (Faces page, Detect faces)."
    if scan["error"]:
        return picture, f"Faces: the search failed: {md_text(scan['error'])}"
    if faces.empty:
        return picture, ":material/face: **No face** found in this image."
    scale = picture.width / float(image["width"])
    picture = picture.copy()
    draw = ImageDraw.Draw(picture)
    width = max(2, round(picture.width / 250))
    font = ImageFont.load_default(size=max(12, picture.width // 25))
    for face in faces.itertuples():
        box = [face.x1 * scale, face.y1 * scale, face.x2 * scale, face.y2 * scale]
        draw.rectangle(box, outline=BOX_COLOUR, width=width)
        draw.text((box[0] + 2 * width, box[1] + width), str(face.face), fill=BOX_COLOUR, font=font)
    listed = ", ".join(f"#{f.face} (p {f.prob:.2f})" for f in faces.itertuples())
    return picture, f":material/face: **{len(faces)} face{'s' * (len(faces) != 1)}**: {listed}"
