#!/usr/bin/env bash
# Submit poster predict as a Slurm job array of SHARDS tasks, and the merge as a job that starts only when every
# task of the array has succeeded (--dependency=afterok on the array's job id).
#   POSTER_INPUT=/data/faces POSTER_MODEL=/models/poster-rafdb.onnx POSTER_OUT=/scratch/faces deploy/slurm/submit.sh 16
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shards="${1:-16}"
: "${POSTER_INPUT:?}" "${POSTER_MODEL:?}" "${POSTER_OUT:?}"
mkdir -p "$POSTER_OUT"
# --parsable prints "jobid" or "jobid;cluster".
array_job="$(sbatch --parsable --array=0-$((shards - 1)) --export=ALL "$here/predict-array.sbatch")"
array_job="${array_job%%;*}"
merge_job="$(sbatch --parsable --dependency=afterok:"$array_job" --export=ALL,POSTER_SHARDS="$shards" "$here/merge.sbatch")"
echo "predict array: job $array_job ($shards tasks); merge: job ${merge_job%%;*}, after all of them succeed"
