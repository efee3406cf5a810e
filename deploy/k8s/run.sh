#!/usr/bin/env bash
# Run predict as an Indexed Job, wait until every index has succeeded, then run the merge Job. Kubernetes has no
# dependency between Jobs: this script is the ordering. A failed predict Job stops here (merge never starts).
#   kubectl apply -f deploy/k8s/volumes.yaml      # once
#   deploy/k8s/run.sh                             # kubectl pointed at the cluster and namespace
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
poll="${POSTER_POLL_SECONDS:-10}"

# Wait for a Job's Complete condition; fail (with its logs) on Failed.
wait_job() {
  local job="$1" conditions
  while :; do
    conditions=" $(kubectl get job "$job" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}') "
    case "$conditions" in
      *" Complete "*) return 0 ;;
      *" Failed "*) echo "job $job failed" >&2; kubectl logs "job/$job" --all-containers >&2 || true; return 1 ;;
    esac
    sleep "$poll"
  done
}

kubectl delete job poster-predict poster-merge --ignore-not-found
kubectl apply -f "$here/predict-job.yaml"
wait_job poster-predict
kubectl apply -f "$here/merge-job.yaml"
wait_job poster-merge
kubectl logs job/poster-merge
