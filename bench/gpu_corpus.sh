#!/usr/bin/env bash
# On a lent GPU machine (wheels of the missing packages in .whl/, as for bench/gpu_check.sh): the
# rVAE's spread over training seeds on the low-dose physics movies, then the demo end to end.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo PIPFAIL
export PYTHONPATH=/tmp/site:$PWD/workflow/scripts PYTHONUNBUFFERED=1
for s in 0 1 2 3 4; do
  timeout 90 python3 -W ignore bench/corpus_rvae.py --cases graphene_s0_d3 graphene_s1_d3 graphene_s2_d3 --models rvae \
    --seed $s --threads 4 --cache /tmp/cache --json $OUT/seed$s.json > $OUT/seed$s.txt 2>&1
  grep -E "^graphene|^d3" $OUT/seed$s.txt | sed "s/^/seed $s: /"
done
s=$(date +%s); timeout 150 python3 -m snakemake --cores 16 > $OUT/demo_log.txt 2>&1; echo "demo rc $? wall $(( $(date +%s)-s )) s"
python3 -c "
import json; d=json.load(open('results/graphene_sim/atom_metrics.json')); print('atoms', d['f1'], round(d['rmse_px'],3))
for m in ('rvae','vae'):
    s=json.load(open(f'results/graphene_sim/{m}/latent_scores.json')); p=json.load(open(f'results/graphene_sim/{m}/pathway_scores.json'))
    print(m, round(s['defect_vs_c']['best_single_auc'],3), round(s['defect_vs_c']['logistic_auc'],3), s['sublattice'], {k:(round(v['precision'],2),round(v['recall'],2)) for k,v in p['events']['kinds'].items()})
"
