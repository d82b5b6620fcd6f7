"""Shared by the workflow scripts: the job's log file, where it logs to MLflow, how often it saves its progress, and
the multi-GPU launcher."""

import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from spct.config import io_only, stage_settings

LAUNCHED = "SPCT_ACCELERATE_CHILD"  # set in the processes `accelerate launch` started for a job


def log_to(path: str) -> None:
    """Send the job's logging and stderr (progress bars) to its log file (appended to by every launched rank)."""
    handle = open(path, "a" if os.environ.get(LAUNCHED) else "w", buffering=1)
    sys.stderr = handle
    logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def mlflow_config(smk) -> dict:
    """Read from the config, not a rule param: moving the tracking server must not rerun (or retrain) anything."""
    return {"tracking_uri": smk.config["mlflow"]["tracking_uri"], "experiment": smk.config["experiment"]}


def io_settings(smk, section: str, ablation: str = "main") -> dict:
    """Read from the config, not a rule param: how often a job saves its progress (judge.cache_every, save_steps;
    spct.config.IO_ONLY_KEYS) changes none of its results, so changing it must rerun nothing."""
    return io_only(section, stage_settings(smk.config, section, ablation))


def relaunched_under_accelerate(smk) -> bool:
    """Run this training job under `accelerate launch`, one process per GPU, when training.accelerate_config is set.

    Snakemake runs a script as `python <a copy of it that holds the job's data>`, so that copy is simply launched
    again with training.world_size processes (the rule asked the cluster for as many GPUs). Returns True in the
    launching process, whose work is then done; False where the job should train itself (no launcher configured,
    or already one of the launched processes).
    """
    config_file = smk.config["training"].get("accelerate_config")
    if not config_file or os.environ.get(LAUNCHED):
        return False
    processes = str(smk.config["training"].get("world_size", 1))
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    cmd = [accelerate, "launch", "--config_file", config_file, "--num_processes", processes, sys.argv[0]]
    logging.getLogger("spct.launch").info("training under: %s", shlex.join(cmd))
    subprocess.run(cmd, env={**os.environ, LAUNCHED: "1"}, check=True)
    return True
