"""Detection and embedding on Ray (`--engine ray`) give the faces and vectors of the local path.

A local Ray is started here with two CPUs, as on the CI machine, and the commands join it with
`--address`; the local path's results are those of the `lfw_project` fixture (lfw10 ingested,
detected and embedded with dlib-resnet34 by the local workers).
"""

from __future__ import annotations

import numpy as np
import pytest

from curation.cli import main
from curation.store import open_store

ray = pytest.importorskip("ray", reason="the Ray engine needs `pip install 'ray[data]'`")


@pytest.fixture(scope="module")
def ray_address():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def faces_and_vectors(root) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """(source, face) -> (box, dlib-resnet34 vector) of every face of the project."""
    store = open_store(root)
    try:
        frame = store.export_embeddings("dlib-resnet34")
    finally:
        store.close()
    return {(r.source, int(r.face)): (np.asarray(r.box, dtype=float), np.asarray(r.vector, dtype=float))
            for r in frame.itertuples()}


@pytest.mark.slow
def test_ray_engine_finds_the_same_faces_and_vectors_as_the_local_path(lfw_project, shared_data, ray_address, tmp_path,
                                                                       capsys):
    local_root, _ = lfw_project
    root = tmp_path / "ray-project"
    commands = [["init", root], ["ingest", root, shared_data / "lfw10", "--labels-from-folders"],
                ["detect", root, "--device", "cpu", "--engine", "ray", "--address", ray_address],
                ["embed", root, "--model", "dlib-resnet34", "--device", "cpu", "--engine", "ray",
                 "--address", ray_address]]
    assert [main([str(arg) for arg in command]) for command in commands] == [0, 0, 0, 0]
    printed = capsys.readouterr().out
    assert "100 images searched" in printed

    local, on_ray = faces_and_vectors(local_root), faces_and_vectors(root)
    assert len(local) > 100
    assert on_ray.keys() == local.keys()
    for key, (box, vector) in local.items():
        ray_box, ray_vector = on_ray[key]
        np.testing.assert_allclose(ray_box, box, atol=0.5, err_msg=str(key))
        cosine = vector @ ray_vector / (np.linalg.norm(vector) * np.linalg.norm(ray_vector))
        assert cosine >= 0.9999, (key, cosine)


def test_an_unknown_engine_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["detect", str(tmp_path), "--engine", "spark"])
    assert exit_.value.code == 2


def test_an_unreachable_cluster_fails_with_a_sentence(lfw_project, tmp_path, capsys):
    """A project whose images are not searched yet, sent to an address where no Ray listens."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    with store.transaction() as cur:
        cur.execute("DELETE FROM face_embeddings")
        cur.execute("DELETE FROM faces")
        cur.execute("DELETE FROM face_scans")
    store.close()
    assert main(["detect", str(root), "--device", "cpu", "--engine", "ray", "--address", "127.0.0.1:1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Ray" in err and "127.0.0.1:1" in err
