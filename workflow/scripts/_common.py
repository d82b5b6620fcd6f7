"""Shared by the workflow scripts: the job's log file, and where it logs to MLflow."""

import logging
import sys


def log_to(path: str) -> None:
    """Send the job's logging and stderr (progress bars) to its log file."""
    handle = open(path, "w", buffering=1)
    sys.stderr = handle
    logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def mlflow_config(smk) -> dict:
    """Read from the config, not a rule param: moving the tracking server must not rerun (or retrain) anything."""
    return {"tracking_uri": smk.config["mlflow"]["tracking_uri"], "experiment": smk.config["experiment"]}
