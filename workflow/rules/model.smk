# A local rule: a hub model is downloaded here, and cluster compute nodes often have no internet.
localrules:
    base_model,


rule base_model:
    input:
        code=stage_code("base_model"),
    output:
        directory("results/{exp}/models/base"),
    params:
        spec=config["model"]["base"],
    log:
        "logs/{exp}/base_model.log",
    conda:
        "../../envs/spct.yaml"
    script:
        "../scripts/base_model.py"
