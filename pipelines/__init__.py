"""KFP pipelines: wiring only (`@dsl.pipeline`, task options, kfp-kubernetes). Never imports o3v.

make pipeline-run            # the whole DAG locally (kfp.local), or on $KFP_HOST
make stage-run STAGE=eval MODEL=<uri>
make compile                 # build/pipelines/<pipeline>.yaml
make schedule CRON="0 0 3 * * 1"
"""
