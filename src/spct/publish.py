"""Version the pipeline's datasets and checkpoints with DVC and push them to a DVC remote (the ``publish`` target).

Snakemake owns the DAG; DVC only versions and moves what it built. Each top-level folder of
``results/<experiment>/`` (prepared data, rejective-sampling data, models, judgments, metrics, reports, and the
judgment cache that lets a larger k resume) becomes one ``<folder>.dvc`` file to commit with git. Trainer
checkpoints (``models/*.checkpoints``) are excluded by ``.dvcignore``: they only serve a resume after a kill.

On another machine: ``git clone``, ``dvc pull``, then ``snakemake --touch`` (DVC does not keep file times, so
Snakemake would otherwise think everything is out of date) and nothing reruns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

TRACKED = (
    "data",
    "rejective",
    "models",
    "meta_rm",
    "judgments",
    "meta_scores",
    "metrics",
    "format_check",
    "report",
    "cache",
)


def tracked_folders(experiment_dir: Path, names: Sequence[str] = TRACKED) -> list[Path]:
    return [experiment_dir / name for name in names if (experiment_dir / name).is_dir()]


def publish(experiment_dir: str | Path, repo_root: str | Path = ".", remote: str | None = None) -> dict:
    """``dvc add`` every output folder of the experiment, then ``dvc push`` them to ``remote`` (None = the DVC
    default remote). Returns ``{"remote": ..., "tracked": {folder: md5}}``; raises with the DVC message when the
    repository has no remote or the push fails."""
    from dvc.repo import Repo

    experiment_dir, repo_root = Path(experiment_dir), Path(repo_root).resolve()
    folders = tracked_folders(experiment_dir)
    if not folders:
        raise FileNotFoundError(f"{experiment_dir}: nothing to publish; run the workflow first")
    with Repo(str(repo_root)) as repo:
        targets = [str(folder) for folder in folders]
        log.info("dvc add %s", " ".join(targets))
        repo.add(targets)
        dvc_files = [f"{target}.dvc" for target in targets]
        pushed = repo.push(targets=dvc_files, remote=remote)
        log.info("dvc push: %s file(s) uploaded", pushed)
        remote_name = remote or repo.config["core"].get("remote")
    tracked = {}
    for dvc_file in dvc_files:
        (out,) = yaml.safe_load(Path(dvc_file).read_text())["outs"]
        tracked[dvc_file] = out["md5"]
    return {"remote": remote_name, "tracked": tracked}
