#!/usr/bin/env bash
# On a lent GPU machine, from the repository root, with the wheels of the packages its image
# lacks in .whl/ (README "Performance"): the CUDA tests, then the rVAE's spread over training
# starts on the six physics movies (one start per run, probed at the end of its warm-up: see
# bench/corpus_rvae.py fit_probed; bench/start_choice.py scores the choice rules from them),
# then the demo end to end. Results land in $OUT. Usage: bash bench/gpu_corpus.sh [SEEDS] [PARALLEL]
seeds=${1:-18}
parallel=${2:-12}
py=${PY:-python3}  # the image's python (PY=.venv/bin/python to try the script on a CPU machine)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
[ -d .whl ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo PIPFAIL
export PYTHONPATH=/tmp/site:$PWD/workflow/scripts:$PWD/tests PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
$py -c "import torch,snakemake,zarr,xarray;print(torch.__version__,torch.cuda.is_available(),snakemake.__version__,zarr.__version__,xarray.__version__)"
timeout 90 $py -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > $OUT/gpu_tests.txt 2>&1; tail -4 $OUT/gpu_tests.txt

cases="graphene_s0_d3 graphene_s1_d3 graphene_s2_d3 graphene_s0_d10 graphene_s1_d10 graphene_s2_d10"
# VARIANTS="label:key=value,key=value ...": each a folder of runs with those rvae.hyper overrides
variants=${VARIANTS:-default:}
sweep=/tmp/sweep; mkdir -p $sweep
s=$(date +%s); deadline=$((s + ${SWEEP_S:-300}))
one() {  # case seed model variant; none starts after the deadline
  [ $(date +%s) -lt $deadline ] || return 0
  local label=${4%%:*} sets=${4#*:} extra=()
  for kv in ${sets//,/ }; do extra+=(--set "$kv"); done
  mkdir -p $sweep/$label
  timeout ${JOB_S:-150} $py -W ignore bench/corpus_rvae.py --cases $1 --models $3 --seed $2 --probe-starts --cache /tmp/cache \
    ${EPOCHS:+--epochs $EPOCHS} "${extra[@]}" --json $sweep/$label/$3_$1_seed$2.json > $sweep/$label/$3_$1_seed$2.log 2>&1
  echo "$(date +%s) $label $3 $1 seed $2 rc $?" >> $sweep/done.txt
}
export -f one; export sweep deadline py
first=${variants%% *}
for c in $cases; do one $c 0 rvae $first & done; wait  # builds each case's patch cache once
echo "first round $(( $(date +%s)-s )) s"
{ for seed in $(seq 0 $((seeds - 1))); do for v in $variants; do for c in $cases; do
    [ $seed = 0 ] && [ $v = $first ] || echo "$c $seed rvae $v"; done; done; done
  [ -n "$VAE" ] && for seed in 0 1 2; do for c in $cases; do echo "$c $seed vae $first"; done; done; } |
  xargs -P $parallel -L 1 bash -c 'one $0 $1 $2 $3'
echo "sweep $(( $(date +%s)-s )) s, $(wc -l < $sweep/done.txt) runs"
tar czf $OUT/sweep.tgz -C /tmp sweep

[ "${DEMO_S:-150}" = 0 ] && exit 0
s=$(date +%s); timeout ${DEMO_S:-150} $py -m snakemake --cores 16 > $OUT/demo_log.txt 2>&1; echo "demo rc $? wall $(( $(date +%s)-s )) s"
$py bench/summary.py > $OUT/summary.txt 2>&1
$py -c "
import json; d=json.load(open('results/graphene_sim/atom_metrics.json')); print('atoms', d['f1'], round(d['rmse_px'],3))
for m in ('rvae','vae'):
    s=json.load(open(f'results/graphene_sim/{m}/latent_scores.json')); p=json.load(open(f'results/graphene_sim/{m}/pathway_scores.json'))
    print(m, 'si', s['si_vs_c']['best_single_auc'], 'defect', round(s['defect_vs_c']['best_single_auc'],3), round(s['defect_vs_c']['logistic_auc'],3), 'sublattice', s['sublattice'], {k:(round(v['precision'],2),round(v['recall'],2)) for k,v in p['events']['kinds'].items()})
" 2>&1 | tee $OUT/scores.txt
grep -h "patches/s" results/logs/train_model/*.log | tail -3 | cut -c1-250
