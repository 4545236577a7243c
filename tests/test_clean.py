"""Cleaning a project of real faces (lfw10) with injected impostors: the job, the stored suggestions,
deciding them as undoable edits, the report, the export, and the CLI."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from curation.cli import main
from curation.clean.run import clean_project
from curation.store import EXPORT_SUGGESTION_COLUMNS, EditError, open_store

PERSON = "George_W_Bush"


@pytest.fixture
def noisy(lfw_project, tmp_path):
    """lfw10 with 12 photos of six other people relabelled as George W Bush (10 photos): the
    person is a minority of his label. Returns the store and the impostors' true labels by image id."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    images = store.query_df("SELECT id, label FROM images WHERE label <> ? ORDER BY id", [PERSON])
    impostors = images.groupby("label").head(2).head(12)
    store.set_label(list(impostors["id"]), PERSON, "injector")
    yield store, dict(zip(impostors["id"], impostors["label"]))
    store.close()


def person_faces(store, run_label=PERSON) -> pd.DataFrame:
    return store.identity_suggestions(run_label)


def test_the_person_is_kept_and_every_impostor_sent_home(noisy):
    store, impostors = noisy
    summary = clean_project(store, "dlib-resnet34", actor="tester")
    assert summary.identities == 10 and summary.same_person == 0.6
    rows = person_faces(store)
    open_rows = rows[rows["status"] == "open"]
    assert set(open_rows["image_id"]) == set(impostors)
    assert (open_rows["action"] == "relabel").all()
    assert dict(zip(open_rows["image_id"], open_rows["target_label"])) == impostors
    kept = rows[rows["status"] == "kept"]
    assert len(kept) == 10 and not set(kept["image_id"]) & set(impostors)
    assert store.report()["suggestions"]["relabel"] == 12


def test_accepting_is_an_edit_and_undo_reverses_it(noisy):
    store, impostors = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    rows = person_faces(store)
    first = rows[rows["status"] == "open"].iloc[0]
    events_before = store.query("SELECT count(*) FROM events")[0][0]
    assert store.decide_suggestions([int(first["id"])], True, "ada") == (1, 0)
    assert store.query("SELECT label FROM images WHERE id = ?", [int(first["image_id"])])[0][0] == first["target_label"]
    assert store.query("SELECT count(*) FROM events")[0][0] == events_before + 2
    assert store.report()["suggestions"]["relabel"] == 11
    result = store.undo_last("ada")
    assert (result.reverted, result.line()) == (1, "Undid a decision on a suggestion on 1 image.")
    assert store.query("SELECT label FROM images WHERE id = ?", [int(first["image_id"])])[0][0] == PERSON
    assert store.report()["suggestions"]["relabel"] == 12


def test_rejecting_changes_nothing_but_the_suggestion(noisy):
    store, _ = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    ids = [int(i) for i in person_faces(store).query("status == 'open'")["id"]]
    labels_before = store.query_df("SELECT id, label FROM images ORDER BY id")
    assert store.decide_suggestions(ids, False, "ada") == (12, 0)
    assert store.query_df("SELECT id, label FROM images ORDER BY id").equals(labels_before)
    assert store.decide_suggestions(ids, True, "ada") == (0, 0)  # no longer open
    assert store.undo_last("ada").reverted == 12


def test_a_suggestion_whose_image_was_relabelled_since_is_left_open(noisy):
    store, _ = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    row = person_faces(store).query("status == 'open'").iloc[0]
    store.set_label([int(row["image_id"])], "Someone_Else", "bob")
    assert store.decide_suggestions([int(row["id"])], True, "ada") == (0, 1)
    assert store.query("SELECT label FROM images WHERE id = ?", [int(row["image_id"])])[0][0] == "Someone_Else"


def test_accepting_a_removal_flags_the_image_wrong_identity(noisy):
    store, impostors = noisy
    # With the impostors' own identities gone from the project, nobody else claims them: remove.
    others = sorted(set(impostors.values()))
    store.add_flag([int(i) for i, in store.query(
        "SELECT id FROM images WHERE label IN (SELECT unnest(?))", [others])], "failed", "", "tester")
    clean_project(store, "dlib-resnet34", label=PERSON, actor="tester")
    rows = person_faces(store).query("status == 'open'")
    assert set(rows["action"]) == {"remove"} and set(rows["image_id"]) == set(impostors)
    store.decide_suggestions([int(rows.iloc[0]["id"])], True, "ada")
    flags = store.query("SELECT kind, note FROM flags WHERE image_id = ? AND active AND kind = 'wrong_identity'",
                        [int(rows.iloc[0]["image_id"])])
    assert len(flags) == 1 and PERSON in flags[0][1]


def test_a_new_run_supersedes_the_open_suggestions_of_its_labels(noisy):
    store, _ = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    clean_project(store, "dlib-resnet34", label=PERSON, actor="tester")
    statuses = dict(store.query("SELECT status, count(*) FROM suggestions GROUP BY status"))
    assert statuses["superseded"] == 12
    assert store.report()["suggestions"]["relabel"] == 12


def test_two_names_for_one_person_get_a_merge_suggestion(noisy):
    store, impostors = noisy
    blair = [int(i) for i, in store.query("SELECT id FROM images WHERE label = 'Tony_Blair' ORDER BY id")]
    store.set_label(blair[:5], "Anthony_Blair", "tester")
    clean_project(store, "dlib-resnet34", actor="tester")
    merges = store.query("SELECT label, target_label FROM suggestions WHERE action = 'merge' AND status = 'open'")
    assert merges == [("Anthony_Blair", "Tony_Blair")]
    merge_id = store.query("SELECT id FROM suggestions WHERE action = 'merge'")[0][0]
    store.decide_suggestions([merge_id], True, "ada")
    assert store.query("SELECT count(*) FROM images WHERE label = 'Tony_Blair'")[0][0] == 10


def test_an_annotated_attribute_keeps_a_lookalike_out(noisy):
    store, _ = noisy
    store.define_attribute("gender", ["female", "male"])
    clean_project(store, "dlib-resnet34", actor="tester")
    kept = person_faces(store).query("status == 'kept'")
    victim = int(kept.iloc[0]["image_id"])
    store.tag_images(list(kept["image_id"]), "gender", "male", "tester")
    store.tag_images([victim], "gender", "female", "tester")
    clean_project(store, "dlib-resnet34", label=PERSON, actor="tester")
    rows = person_faces(store)
    assert victim not in set(rows.query("status == 'kept'")["image_id"])
    assert store.undo_last("tester").reverted == 1


def test_export_writes_one_row_per_face_with_the_design_columns(noisy, tmp_path):
    store, _ = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    frame = store.export_suggestions()
    assert list(frame.columns) == EXPORT_SUGGESTION_COLUMNS
    assert len(frame) == store.face_count()
    assert set(frame["action"]) <= {"keep", "remove", "relabel"}
    assert frame["score"].between(0.5, 1.0).all()


def test_cleaning_before_embedding_says_what_to_do(project):
    with pytest.raises(EditError, match="run the embedding first"):
        clean_project(project, "dlib-resnet34")


def test_clean_and_export_commands(noisy, tmp_path, capsys):
    store, _ = noisy
    root = store.project.root
    store.close()
    assert main(["clean", str(root), "--label", PERSON]) == 0
    printed = capsys.readouterr().out
    assert "12 to relabel" in printed and "Open suggestions: 0 to remove, 12 to relabel, 0 merges" in printed
    out = tmp_path / "suggestions.csv"
    assert main(["export", str(root), str(out), "--what", "suggestions"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == EXPORT_SUGGESTION_COLUMNS
    assert (frame[frame["label"] == PERSON]["action"] == "relabel").sum() == 12
    assert main(["clean", str(root), "--label", "Nobody"]) == 1
    assert "No face labelled 'Nobody'" in capsys.readouterr().err
    open_store(root).close()


def ids_of(store, label: str) -> list[int]:
    return [int(i) for i, in store.query("SELECT id FROM images WHERE label = ? ORDER BY id", [label])]


@pytest.fixture
def copied(lfw_project, tmp_path):
    root = tmp_path / "copied"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    yield store
    store.close()


def test_six_photos_of_another_labelled_person_against_five_of_the_person(copied):
    """The person's pool holds five photos of the person and six of Colin Powell, who is kept under
    his own label: Powell's six go home and the five stay, although they are the smaller group."""
    store = copied
    bush, powell = ids_of(store, PERSON), ids_of(store, "Colin_Powell")
    store.add_flag(bush[5:], "failed", "", "tester")
    store.set_label(powell[:6], PERSON, "injector")
    summary = clean_project(store, "dlib-resnet34", actor="tester")
    assert summary.ambiguous == 0
    rows = person_faces(store)
    assert set(rows.query("status == 'kept'")["image_id"]) == set(bush[:5])
    opened = rows.query("status == 'open'")
    assert set(opened["image_id"]) == set(powell[:6])
    assert set(opened["action"]) == {"relabel"} and set(opened["target_label"]) == {"Colin_Powell"}


def test_two_people_alike_in_number_wait_for_a_person_to_choose(copied):
    """Every photo of Colin Powell filed under George W Bush, and no Powell label left: ten against
    ten, nobody else's. Nothing is removed; choosing Bush's reading opens the removals of Powell's
    photos, as one undoable batch."""
    store = copied
    bush, powell = ids_of(store, PERSON), ids_of(store, "Colin_Powell")
    store.set_label(powell, PERSON, "injector")
    summary = clean_project(store, "dlib-resnet34", actor="tester")
    assert summary.ambiguous == 1 and "1 ambiguous" in summary.line()
    rows = person_faces(store)
    assert not len(rows.query("status == 'open'")) and (rows["status"] == "ambiguous").sum() >= 20
    assert set(rows.query("status != 'bystander'")["action"]) == {"keep"}
    assert bool(store.identity_overview().set_index("label").loc[PERSON, "ambiguous"])
    readings = store.identity_readings(PERSON)
    members = readings[readings["member"]].groupby("candidate")["image_id"].apply(set)
    chosen = next(c for c, images in members.items() if images <= set(bush))
    assert any(images <= set(powell) for images in members.values)
    decided = store.choose_reading(int(readings["run_id"].iloc[0]), PERSON, int(chosen), "ada")
    assert decided == (rows["status"] == "ambiguous").sum()
    rows = person_faces(store)
    assert set(rows.query("status == 'open'")["image_id"]) == set(powell)
    assert set(rows.query("status == 'open'")["action"]) == {"remove"}
    assert set(rows.query("status == 'kept'")["image_id"]) == set(bush)
    assert store.identity_readings(PERSON).empty
    assert store.undo_last("ada").reverted > 0
    assert (person_faces(store)["status"] == "ambiguous").sum() == decided
    assert len(store.identity_readings(PERSON))
    with pytest.raises(EditError, match="no undecided reading 7"):
        store.choose_reading(int(readings["run_id"].iloc[0]), PERSON, 7, "ada")


def test_the_calibrated_distance_is_recorded_on_the_run(noisy):
    store, _ = noisy
    clean_project(store, "dlib-resnet34", actor="tester")
    run = store.clean_runs(1).iloc[0]
    assert run["same_person"] == pytest.approx(0.6)
    assert run["same_person_source"].startswith("calibrated on 10 people of the project (kept;")
    assert "dlib-resnet34's published 0.60" in run["same_person_source"]
