# Version the experiment's data and checkpoints with DVC and push them to the DVC remote (default: the local
# .dvc-storage/; `dvc remote add -d ...` for S3, SSH or NFS). A target without output: it runs each time it is
# asked for, on the login node (pushing needs the network). Commit the .dvc files it writes with git.
localrules:
    publish,


rule publish:
    input:
        report_outputs("main"),
        code=stage_code("publish"),
    params:
        experiment=EXPERIMENT,
    log:
        f"logs/{EXPERIMENT}/publish.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/publish.py"
