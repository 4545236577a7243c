"""Operations: one typed definition per job kind drives the CLI, the API schema and form defaults."""

from __future__ import annotations

import argparse

import pytest

from curation.cli import build_parser
from curation.jobs import OPERATIONS, JobError, ParamError, start_job
from curation.jobs.kinds import EMBEDDERS, PROVIDERS, TrainParams


def test_the_light_name_lists_match_the_registries():
    from curation.embed import EMBEDDERS as registered_embedders
    from curation.gather import PROVIDERS as registered_providers

    assert EMBEDDERS == tuple(registered_embedders)
    assert sorted(PROVIDERS) == sorted(registered_providers)


def test_every_runner_resolves():
    for op in OPERATIONS.values():
        assert callable(op.runner()), op.name


def test_parse_refuses_unknown_missing_and_mistyped_fields():
    embed = OPERATIONS["embed"]
    assert embed.parse({}).model == "dlib-resnet34"
    with pytest.raises(ParamError, match="no parameter 'colour'"):
        embed.parse({"colour": "red"})
    with pytest.raises(ParamError, match="'batch_size' is a whole number"):
        embed.parse({"batch_size": "64"})
    with pytest.raises(ParamError, match="'batch_size' is a whole number"):
        embed.parse({"batch_size": True})
    with pytest.raises(ParamError, match="at least 1"):
        embed.parse({"batch_size": 0})
    with pytest.raises(ParamError, match="one of dlib-resnet34"):
        embed.parse({"model": "resnet-1000"})
    with pytest.raises(ParamError, match="needs the parameter 'paths'"):
        OPERATIONS["ingest"].parse({})
    with pytest.raises(ParamError, match="list of str"):
        OPERATIONS["ingest"].parse({"paths": "/one/path"})
    with pytest.raises(ParamError, match="JSON object"):
        embed.parse(["model"])


def test_train_params_pick_the_embedder_by_architecture():
    assert TrainParams(arch="linear").embedder == "dlib-resnet34"
    assert TrainParams(arch="linear", embedder="hog").embedder == "hog"
    assert TrainParams(arch="resnet34", embedder="hog").embedder is None
    assert OPERATIONS["train"].parse({"lr": 1}).lr == 1.0


def test_the_json_schema_follows_the_dataclass():
    schema = OPERATIONS["gather"].json_schema()
    assert schema["required"] == ["provider", "query", "label"]
    assert schema["properties"]["provider"]["enum"] == list(PROVIDERS)
    assert schema["properties"]["query"] == {"type": "array", "items": {"type": "string"},
                                             "description": schema["properties"]["query"]["description"]}
    assert schema["properties"]["max"]["default"] == 50
    assert schema["additionalProperties"] is False
    weights = OPERATIONS["embed"].json_schema()["properties"]["weights"]
    assert weights["anyOf"] == [{"type": "string"}, {"type": "null"}] and weights["default"] is None


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_the_command_line_is_drawn_from_the_operations(tmp_path):
    args = parse(["train", "p", "--arch", "linear", "--model", "hog", "--epochs", "3"])
    assert OPERATIONS["train"].from_args(args) == {"arch": "linear", "embedder": "hog", "epochs": 3}
    args = parse(["gather", "p", "--provider", "openverse", "--query", "grizzly bear", "--label", "grizzly",
                  "--query", "polar bear", "--label", "polar", "--max", "5"])
    assert OPERATIONS["gather"].from_args(args) == {"provider": "openverse", "query": ["grizzly bear", "polar bear"],
                                                   "label": ["grizzly", "polar"], "max": 5}
    args = parse(["ingest", "p", "relative/folder", "--labels-from-folders"])
    values = OPERATIONS["ingest"].from_args(args)
    assert values["labels_from_folders"] is True
    assert values["paths"][0].startswith("/") and values["paths"][0].endswith("relative/folder"), \
        "a path is made absolute where the command runs, not where the server runs"
    assert OPERATIONS["detect"].from_args(parse(["detect", "p"])) == {}


@pytest.mark.parametrize("argv", [["embed", "p", "--model", "nope"], ["embed", "p", "--batch-size", "x"],
                                  ["gather", "p", "--query", "q", "--label", "l"], ["train", "p", "--arch", "vit"]])
def test_the_command_line_refuses_bad_options_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(argv)
    assert stop.value.code == 2


def test_start_job_turns_bad_params_into_a_sentence(project):
    with pytest.raises(JobError, match="no parameter 'speed'"):
        start_job(project, "detect", {"speed": 3})
    with pytest.raises(JobError, match="There is no job kind 'bake'"):
        start_job(project, "bake", {})
    with pytest.raises(JobError, match="one --label for each --query"):
        start_job(project, "gather", {"provider": "openverse", "query": ["a", "b"], "label": ["a"]})
    assert project.jobs() == [], "nothing was started"


def test_form_defaults_come_from_the_operation():
    assert OPERATIONS["detect"].defaults() == {"device": "auto", "batch_size": 16, "engine": "local", "address": None}
    assert OPERATIONS["train"].defaults()["epochs"] == 30


def test_no_params_field_shadows_what_the_command_line_keeps_for_itself():
    reserved = {"dir", "run", "command"}
    for op in OPERATIONS.values():
        clash = {f.name for f in op.fields()} & reserved
        assert not clash, f"{op.name}'s params name {clash}, which argparse already uses"
