"""The run key of training checkpoints (``spct.training.checkpoints``), without a model: checkpoints are resumed
only by the run that wrote them."""

from __future__ import annotations

import json
import logging

from spct.training.checkpoints import RUN_KEY_FILE, data_digest, prepare_checkpoints, run_key, run_settings


def _fake_checkpoint(ckpt_dir, step: int) -> None:
    (ckpt_dir / f"checkpoint-{step}").mkdir(parents=True)
    (ckpt_dir / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_how_long_and_how_often_are_not_part_of_the_run():
    settings = {"learning_rate": 1e-5, "max_steps": 9, "save_steps": 2, "logging_steps": 1, "report_to": "mlflow"}
    settings["extra"] = {"logging_steps": 5, "weight_decay": 0.1}
    assert run_settings(settings) == {"learning_rate": 1e-5, "extra": {"weight_decay": 0.1}}
    assert data_digest([{"a": 1}, {"a": 2}]) != data_digest([{"a": 2}, {"a": 1}])  # order is data too
    assert data_digest([{"a": 1, "b": 2}]) == data_digest([{"b": 2, "a": 1}])


def test_same_run_resumes_another_run_starts_afresh_and_says_why(tiny_model_dir, tmp_path, caplog):
    ckpts = tmp_path / "model.checkpoints"
    key = run_key({"learning_rate": 1e-5}, tiny_model_dir, data_digest([{"x": 1}]))
    assert prepare_checkpoints(ckpts, key) is None  # nothing to resume; the key is recorded
    _fake_checkpoint(ckpts, 2)
    _fake_checkpoint(ckpts, 4)
    (ckpts / "checkpoint-6").mkdir()  # killed while saving: no trainer_state.json, not resumed
    assert prepare_checkpoints(ckpts, key) == str(ckpts / "checkpoint-4")

    changed = run_key({"learning_rate": 2e-5}, tiny_model_dir, data_digest([{"x": 2}]))
    with caplog.at_level(logging.WARNING):
        assert prepare_checkpoints(ckpts, changed, stage="RFT") is None
    assert "examples, learning_rate changed" in caplog.text and "RFT" in caplog.text
    assert not list(ckpts.glob("checkpoint-*")) and json.loads((ckpts / RUN_KEY_FILE).read_text()) == changed

    _fake_checkpoint(ckpts, 1)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert prepare_checkpoints(ckpts, changed, resume=False) is None
    assert "resume=False" in caplog.text
    _fake_checkpoint(ckpts, 1)
    (ckpts / RUN_KEY_FILE).unlink()  # checkpoints of an unknown run (e.g. written before run keys existed)
    assert prepare_checkpoints(ckpts, changed) is None


def test_other_init_model_files_are_another_run(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "init"
    shutil.copytree(tiny_model_dir, copy)
    ckpts = tmp_path / "model.checkpoints"
    prepare_checkpoints(ckpts, run_key({}, copy, "d"))
    _fake_checkpoint(ckpts, 3)
    assert prepare_checkpoints(ckpts, run_key({}, copy, "d")) is not None
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")  # retrained init model
    assert prepare_checkpoints(ckpts, run_key({}, copy, "d")) is None
