"""Cleaning pools that each hold two people of ten photos, three of them two look-alikes (orl39's
uniform studio faces): the calibration must tell the look-alikes apart, though no label is decided."""

from __future__ import annotations

import contextlib
import io
import shutil

import pytest

from curation.cli import main
from curation.clean.run import clean_project
from curation.store import open_store

#: (labelled person, unlabelled person whose ten photos are filed under that label). The first three
#: are look-alikes: their photos are 0.53-0.55 apart at the median, inside dlib's 0.6.
POOLS = (("s17", "s19"), ("s12", "s30"), ("s18", "s36"), ("s1", "s2"), ("s3", "s4"), ("s5", "s6"))
LOOKALIKES = POOLS[:3]


@pytest.fixture(scope="module")
def lookalike_pools(shared_data, tmp_path_factory):
    """The twelve people's photos ingested by folder and embedded, then each second person's photos
    labelled as the first: every pool is two people of ten photos, and no label is decided."""
    source = tmp_path_factory.mktemp("orl39-lookalikes") / "faces"
    for person in (p for pool in POOLS for p in pool):
        shutil.copytree(shared_data / "orl39" / person, source / person)
    root = source.parent / "project"
    commands = [["init", root], ["ingest", root, source, "--labels-from-folders"],
                ["detect", root, "--device", "cpu"], ["embed", root, "--model", "dlib-resnet34"]]
    with contextlib.redirect_stdout(io.StringIO()):
        assert [main([str(arg) for arg in command]) for command in commands] == [0, 0, 0, 0]
    store = open_store(root)
    photos = {person: ids_of(store, person) for pool in POOLS for person in pool}
    for person, outsider in POOLS:
        store.set_label(photos[outsider], person, "injector")
    summary = clean_project(store, "dlib-resnet34", actor="tester")
    yield store, photos, summary
    store.close()


def ids_of(store, label: str) -> set[int]:
    return {int(i) for i, in store.query("SELECT id FROM images WHERE label = ?", [label])}


def test_the_calibration_moves_below_the_lookalikes_distance(lookalike_pools):
    _, _, summary = lookalike_pools
    assert summary.same_person < 0.53
    assert summary.ambiguous == len(POOLS)


@pytest.mark.parametrize("person, outsider", LOOKALIKES)
def test_a_pool_of_two_lookalikes_waits_for_a_choice_between_them(lookalike_pools, person, outsider):
    """Not one person of twenty photos (the prior's reading, which keeps the look-alike): two
    readings, each one of the two people."""
    store, photos, _ = lookalike_pools
    readings = store.identity_readings(person)
    members = readings[readings["member"]].groupby("candidate")["image_id"].apply(set)
    assert any(images <= photos[person] and len(images) >= 8 for images in members.values)
    assert any(images <= photos[outsider] and len(images) >= 8 for images in members.values)
    assert not len(store.identity_suggestions(person).query("status == 'open'"))
