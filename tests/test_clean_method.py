"""The cleaning method on constructed embeddings whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from curation.clean.joint import clean_labels
from curation.clean.method import clean_identity, dominant_groups, match_score, pairwise_distances, replicator

SAME = 0.6


def person(rng, n, dim=16, spread=0.07, centre=None):
    """n vectors of one person: a random centre, same-person distances about 0.4 (dlib-like)."""
    centre = rng.normal(size=dim) if centre is None else centre
    centre = centre / np.linalg.norm(centre)
    return centre + rng.normal(scale=spread, size=(n, dim)), centre


def strangers(rng, n, dim=16):
    """n vectors of n different people, about 1.4 apart."""
    v = rng.normal(size=(n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_match_is_one_half_at_the_same_person_distance():
    assert match_score(0.0, SAME) == 1.0
    assert match_score(SAME, SAME) == pytest.approx(0.5)
    assert match_score(2 * SAME, SAME) < 0.1


def test_replicator_finds_the_clique_of_a_block_graph():
    similarity = np.zeros((7, 7))
    similarity[:4, :4] = 0.9
    similarity[4:, 4:] = 0.3
    np.fill_diagonal(similarity, 0)
    x = replicator(similarity)
    assert x[:4].min() > 0.2 and x[4:].max() < 1e-6


def test_groups_are_peeled_largest_coherence_first():
    similarity = np.zeros((9, 9))
    similarity[:5, :5] = 0.8
    similarity[5:8, 5:8] = 0.8
    np.fill_diagonal(similarity, 0)
    groups = dominant_groups(similarity)
    assert [sorted(g) for g in groups] == [[0, 1, 2, 3, 4], [5, 6, 7]]


def test_the_person_is_found_when_a_third_of_the_pool():
    rng = np.random.default_rng(0)
    true, _ = person(rng, 10)
    # Twenty impostors: four other people with three photos each, and eight strangers.
    others = [person(rng, 3)[0] for _ in range(4)] + [strangers(rng, 8)]
    vectors = np.vstack([true, *others])
    verdict = clean_identity(vectors, np.arange(len(vectors)), SAME)
    assert verdict.keep[:10].all()
    assert not verdict.keep[10:].any()
    assert set(verdict.core) <= set(range(10))
    assert (verdict.score >= 0.5).all()


def test_at_most_one_face_per_image_the_best_matching():
    rng = np.random.default_rng(1)
    true, centre = person(rng, 8)
    # Image 3 holds the person twice (a photo on the wall): the closer face is kept, not both.
    lookalike = centre / np.linalg.norm(centre) + rng.normal(scale=0.09, size=16)
    vectors = np.vstack([true, lookalike])
    image_ids = np.array([0, 1, 2, 3, 4, 5, 6, 7, 3])
    verdict = clean_identity(vectors, image_ids, SAME)
    on_image_3 = np.flatnonzero(image_ids == 3)
    assert verdict.keep[on_image_3].sum() == 1
    assert verdict.keep[on_image_3[np.argmax(verdict.match[on_image_3])]]


def test_annotated_attributes_split_lookalikes():
    rng = np.random.default_rng(2)
    true, centre = person(rng, 6)
    twin = centre + rng.normal(scale=0.07, size=(3, 16))
    vectors = np.vstack([true, twin])
    gender = np.array(["f"] * 6 + ["m"] * 3, dtype=object)
    gender[[1, 7]] = None  # not tagged: no constraint from them
    verdict = clean_identity(vectors, np.arange(9), SAME, attributes=gender)
    assert verdict.keep[:6].all()
    assert not verdict.keep[[6, 8]].any()
    untagged_twin_kept = verdict.keep[7]
    assert untagged_twin_kept  # looks alike and nothing says otherwise


def test_a_small_identity_is_kept_whole_and_an_empty_one_is_fine():
    rng = np.random.default_rng(3)
    assert clean_identity(np.zeros((0, 16)), np.zeros(0), SAME).keep.shape == (0,)
    assert clean_identity(person(rng, 1)[0], [0], SAME).keep.all()


def test_across_identities_relabel_and_merge():
    rng = np.random.default_rng(4)
    ada, _ = person(rng, 8)
    bob, _ = person(rng, 8)
    bob_again, _ = person(rng, 6, centre=bob.mean(0))
    # Ada's pool holds two photos of Bob; "Robert" is Bob under another name.
    vectors = np.vstack([ada, bob[:2], bob[2:], bob_again])
    labels = np.array(["Ada"] * 10 + ["Bob"] * 6 + ["Robert"] * 6, dtype=object)
    result = clean_labels(vectors, np.arange(len(vectors)), labels, SAME)
    faces = result.faces
    assert (faces["action"][:8] == "keep").all()
    assert list(faces["action"][8:10]) == ["relabel", "relabel"]
    assert set(faces["target_label"][8:10]) <= {"Bob", "Robert"}
    assert list(result.merges[["label", "target_label"]].itertuples(index=False, name=None)) == [("Bob", "Robert")]
    assert (result.merges["score"] >= 0.5).all()


def test_pairwise_distances_match_numpy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(5, 8)), rng.normal(size=(3, 8))
    expected = np.linalg.norm(a[:, None] - b[None], axis=2)
    assert np.allclose(pairwise_distances(a, b), expected, atol=1e-6)


def test_neighbour_vote_relabels_an_image_among_another_class():
    from curation.clean.method import neighbour_vote

    rng = np.random.default_rng(6)
    cats, _ = person(rng, 20)
    dogs, _ = person(rng, 20)
    labels = np.array(["cat"] * 20 + ["dog"] * 20, dtype=object)
    labels[3] = "dog"  # a cat filed as a dog
    faces = neighbour_vote(np.vstack([cats, dogs]), labels).faces
    assert list(np.flatnonzero(faces["action"] == "relabel")) == [3]
    assert faces["target_label"][3] == "cat" and faces["score"][3] >= 0.7
    assert (faces["action"][np.arange(40) != 3] == "keep").all()


def scanned_duplicates(vectors, image_ids, labels, limit):
    """The duplicate search as a scan of every pair, the reference for the pruned one."""
    found = {}
    distances = pairwise_distances(vectors)
    close = (distances < limit) & (labels[:, None] != labels[None, :]) & (image_ids[:, None] > image_ids[None, :])
    for i, j in zip(*np.nonzero(close)):
        found.setdefault(int(image_ids[i]), (int(image_ids[j]), str(labels[j]), float(distances[i, j])))
    return [(image, *twin) for image, twin in sorted(found.items())]


@pytest.mark.parametrize("seed", range(3))
def test_the_pruned_duplicate_search_finds_what_a_scan_of_every_pair_finds(seed):
    from curation.clean.run import cross_identity_duplicates
    rng = np.random.default_rng(seed)
    people = [person(rng, 40)[0] for _ in range(8)]
    vectors = np.concatenate(people + [strangers(rng, 20)])
    labels = np.array([f"p{i % 9}" for i in range(len(vectors))], dtype=object)
    twins = rng.choice(len(vectors), 40, replace=False)
    vectors[twins[:20]] = vectors[twins[20:]] + rng.normal(scale=0.005, size=(20, 16))
    image_ids = rng.permutation(len(vectors))
    image_ids[twins[:6]] = image_ids[twins[6:12]]
    for limit in (0.1, 0.45):
        expected = scanned_duplicates(vectors, image_ids, labels, limit)
        found = cross_identity_duplicates(vectors, image_ids, labels, limit)
        assert len(expected) >= 10
        assert [f[:3] for f in found] == [e[:3] for e in expected]
        assert np.allclose([f[3] for f in found], [e[3] for e in expected])
