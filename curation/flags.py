"""Flag kinds, registered by name: adding a kind touches this file only.

`user` kinds are offered to annotators; the others are raised by the system (ingest, cleaning)
and can be cleared by a person like any flag.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlagKind:
    name: str
    title: str
    description: str
    user: bool = True


FLAG_KINDS: dict[str, FlagKind] = {}


def register(kind: FlagKind) -> FlagKind:
    FLAG_KINDS[kind.name] = kind
    return kind


register(FlagKind("failed", "Failed", "The image is broken, blank or not what was asked for."))
register(FlagKind("duplicate", "Duplicate", "A copy or a near copy of another image."))
register(FlagKind("wrong_identity", "Wrong identity", "The image does not show the labelled person or class."))
register(FlagKind("biased", "Biased", "The sample skews the dataset (who, how, where it was taken)."))
register(FlagKind("low_quality", "Low quality", "Blurred, tiny, occluded, badly lit or watermarked."))
register(FlagKind("other", "Other", "Anything else; say what in the note."))
register(
    FlagKind(
        "label_conflict",
        "Label conflict",
        "The same file was filed under two different labels.",
        user=False,
    )
)
register(FlagKind("blurry", "Blurry", "Out of focus or motion-blurred (quality check: sharpness)."))
register(FlagKind("too_dark", "Too dark", "Underexposed: even its brightest parts are dark (quality check)."))
register(FlagKind("too_bright", "Too bright", "Overexposed or washed out: even its darkest parts are light (quality check)."))
register(FlagKind("low_information", "Low information", "Nearly blank: few distinct grey levels (quality check)."))
register(FlagKind("odd_aspect_ratio", "Odd aspect ratio", "Far wider or taller than the set's typical image (quality check)."))
register(FlagKind("odd_size", "Odd size", "Far larger or smaller than the set's typical image (quality check)."))
register(FlagKind("greyscale", "Greyscale", "A grey picture in a set of colour pictures (quality check)."))
register(FlagKind("outlier", "Outlier", "Looks unlike the rest of its label in the embedding (quality check)."))

USER_FLAG_KINDS = [k.name for k in FLAG_KINDS.values() if k.user]


def flag_title(name: str) -> str:
    kind = FLAG_KINDS.get(name)
    return kind.title if kind else name
