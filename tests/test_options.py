"""Options generated from the configs: names, help, defaults and checks are the fields' own; files of
the earlier config layout still load."""

import dataclasses

import pytest
import torch

from agents.configs import Architecture, NetConfig, TrainConfig
from agents.data import CollectConfig, collect, dataset_metadata
from agents.model import SteeringNet, SteeringPolicy, save_checkpoint
from sims.arguments import OneLineParser
from sims.cli import build_parser, main
from sims.options import add_config, field_docs, flag, prepare


def parsed(*argv: str):
    args = build_parser(list(argv)).parse_args(list(argv))
    assert prepare(args, argv) == 0
    return args


def test_every_training_setting_is_an_option_with_its_docstring_and_default():
    parser = build_parser(["train"])
    train = parser._subparsers._group_actions[0].choices["train"]
    options = {s: a for a in train._actions for s in a.option_strings}
    docs = field_docs(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "net":
            continue
        action = options[flag(f.name)]
        assert docs[f.name].split()[0] in action.help
    for f in dataclasses.fields(Architecture):
        assert "(default: " + " ".join(map(str, f.default)) + ")" in options[flag(f.name)].help
    assert options["--lr"] is options["--learning-rate"]  # the earlier name is an alias


def test_options_given_become_the_config_and_the_rest_keep_the_configs_defaults():
    args = parsed(
        "train",
        "--data",
        "d.npz",
        "--out",
        "m.pt",
        "--lr",
        "0.01",
        "--hidden",
        "8",
        "4",
        "--channels",
        "4",
        "--augment-flip",
    )
    assert args.config == TrainConfig(
        learning_rate=0.01, net=Architecture(hidden=(8, 4), channels=(4,)), augment_flip=True
    )
    args = parsed(
        "collect",
        "--out",
        "x.npz",
        "--noise",
        "0.3",
        "--family",
        "icy",
        "--family",
        "wet",
        "--start-offset",
        "2",
        "--max-steps",
        "50",
    )
    assert args.config.noise_std == 0.3 and args.config.max_steps == 50
    assert args.config.env.families == ("icy", "wet") and args.config.env.start_lateral_offset == 2.0
    assert args.config.env.start_heading_offset == CollectConfig().env.start_heading_offset


@pytest.mark.parametrize(
    "argv, message",
    [
        (["collect", "--out", "x.npz", "--noise", "-1"], "--noise must be in [0, 10]"),
        (["collect", "--out", "x.npz", "--noise-std", "-1"], "--noise-std must be in [0, 10]"),
        (["collect", "--out", "x.npz", "--start-heading", "4"], "--start-heading must be in [0, 3.14159] rad"),
        (["collect", "--out", "x.npz", "--noise-correlation", "1"], "--noise-correlation must be in [0, 1)"),
        (["train", "--data", "d.npz", "--out", "m.pt", "--lr", "0"], "--lr must be positive"),
        (["train", "--data", "d.npz", "--out", "m.pt", "--channels", "0"], "--channels"),
        (["demo", "--gif-frames", "0"], "--gif-frames must be in [1, 100000]"),
        (["play", "--countdown", "99"], "--countdown must be in [0, 60] s"),
        (["experiment", "road-change", "--dart-noise", "20"], "--dart-noise must be in [0, 10]"),
    ],
)
def test_a_value_the_config_refuses_is_refused_in_one_line_naming_the_option_typed(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_a_field_without_default_is_a_required_option_and_none_is_not_shown_as_a_default():
    @dataclasses.dataclass(frozen=True)
    class Example:
        path: str
        """Where it goes."""
        count: int | None = None
        """How many (not given: all)."""

    parser = OneLineParser(prog="example")
    options = add_config(parser, Example)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert options.build(parser.parse_args(["--path", "p"])) == Example("p")
    assert options.build(parser.parse_args(["--path", "p", "--count", "3"])) == Example("p", 3)
    assert "default" not in next(a for a in parser._actions if a.dest == "count").help


def test_a_checkpoint_of_the_earlier_layout_loads(tmp_path):
    net = SteeringNet(NetConfig("features", (5,), Architecture(hidden=(6,))))
    save_checkpoint(tmp_path / "new.pt", net)
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    assert payload["net_config"]["architecture"]["hidden"] == (6,)
    flat = dict(payload["net_config"])
    flat.update(flat.pop("architecture"))  # as checkpoints stored it before: hidden, channels at the top
    payload["net_config"] = flat
    torch.save(payload, tmp_path / "old.pt")
    old = SteeringPolicy.load(tmp_path / "old.pt")
    assert old.net.config == net.config
    assert torch.equal(old.net.body[0].weight, net.body[0].weight)


def test_the_collection_a_dataset_records_is_rebuilt_from_its_metadata():
    config = CollectConfig(num_roads=2, max_steps=30, noise_std=0.2, seed=5)
    data = collect(config)
    assert data.metadata == dataset_metadata(config, data.obs.shape[1:], data.road_names, "expert")
    assert CollectConfig.from_metadata(data.metadata) == config
    earlier = {k: v for k, v in data.metadata.items() if k not in ("max_steps", "frame_stride", "side_cameras")}
    assert CollectConfig.from_metadata(earlier) == dataclasses.replace(config, max_steps=3000)  # its default
