#!/usr/bin/env bash
# The GPU checks, run on a lent GPU machine from the repository root (with the wheels of the
# packages its image lacks in .whl/): training throughput, the CUDA tests, the demo end to end.
# Results land in $OUT.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo PIPFAIL
export PYTHONPATH=/tmp/site:$PWD/workflow/scripts:$PWD/tests PYTHONUNBUFFERED=1
python3 -c "import torch,snakemake,zarr,xarray;print(torch.__version__,torch.cuda.is_available(),snakemake.__version__,zarr.__version__,xarray.__version__)"
timeout 150 python3 bench/train_throughput.py --patches 100000 --epochs 2 --devices cuda > $OUT/train_throughput.txt 2>&1; cat $OUT/train_throughput.txt
timeout 60 python3 -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > $OUT/gpu_tests.txt 2>&1; tail -8 $OUT/gpu_tests.txt
s=$(date +%s); timeout 270 python3 -m snakemake --cores 16 > $OUT/demo_log.txt 2>&1; echo "demo rc $? wall $(( $(date +%s)-s )) s"; tail -5 $OUT/demo_log.txt
python3 bench/summary.py > $OUT/summary.txt 2>&1; head -40 $OUT/summary.txt
cat results/graphene_sim/atom_metrics.json | head -c 300 > $OUT/scores.txt; for m in rvae vae; do echo $m; head -c 600 results/graphene_sim/$m/latent_scores.json; done >> $OUT/scores.txt 2>&1; grep -h "patches/s" results/logs/train_model/*.log | tail -4 >> $OUT/scores.txt
