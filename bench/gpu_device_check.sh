#!/usr/bin/env bash
# Issue 25's GPU checks as one prepared command for a lent GPU machine (the `device` tool; CI never has one).
#
#   bash bench/gpu_device_check.sh prepare
#       here, with a package index: downloads into .whl/ (git-ignored through .git/info/exclude) the
#       CPython 3.12 x86-64 wheels that the GPU machine's image lacks (its python3 is 3.12 with numpy,
#       scipy, scikit-learn, numba, h5py, matplotlib, statsmodels and cupy; no scanpy stack), at the
#       versions constraints.txt pins; ~30 MB, under the 64 MiB that travels with a call.
#   bash bench/gpu_device_check.sh run [CELLS]
#       there (device run with carry [".whl"], timeout ~540 s): installs the wheels into /tmp/site, prints
#       the GPU, runs the GPU variants of the single-cell tests (cupy: blocked QC, embedding agreement, UMAP
#       layout, pseudobulk sums), then bench/sc_scale.py --gpu at CELLS (default 100000) without doublet
#       scores: the CPU job and the GPU job in one run, times per step, host and device memory, agreement.
#       The bench's output and results JSON are written to $OUT.
#
# 1M cells does not fit one device command: the CPU job alone took 24.7 min at 1M on 2 cores (UMAP is
# single-threaded), and a command may run 10 min.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(anndata scanpy umap-learn pynndescent igraph texttable legacy-api-wrap natsort session-info2
        scverse-misc array-api-compat zarr numcodecs donfig google-crc32c jsonschema jsonschema-specifications
        referencing rpds-py pandas pytz tzdata)

pin() {  # the version constraints.txt pins for a distribution
    local v
    v=$(grep -i "^$1==" constraints.txt | head -1 | cut -d= -f3)
    [ -n "$v" ] || { echo "constraints.txt pins no version of $1" >&2; exit 1; }
    echo "$1==$v"
}

case "${1:-}" in
prepare)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    rm -rf .whl && mkdir -p .whl
    specs=()
    for name in "${WHEELS[@]}"; do specs+=("$(pin "$name")"); done
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${specs[@]}"
    echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/ (carry it: run(carry=[\".whl\"], ...))"
    ;;
run)
    cells=${2:-100000}
    out=${OUT:-/tmp/gpu_check_out}
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD/workflow PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import cupy, numpy, scanpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'scanpy', scanpy.__version__)"
    python3 -m pytest -q -p no:cacheprovider -p no:randomly tests/unit/test_cell_blocks.py tests/unit/test_gpu.py \
        -k "gpu or cupy" -rs 2>&1 | tee "$out/gpu_tests.txt"
    python3 bench/sc_scale.py --cells "$cells" --doublets none --gpu --workdir /tmp/sc_scale 2>&1 \
        | grep -v "scanned\|read the" | tee "$out/sc_scale.txt"
    cp /tmp/sc_scale/results_*.json "$out/" 2>/dev/null || true
    ;;
*)
    echo "usage: bash bench/gpu_device_check.sh prepare | run [CELLS]" >&2
    exit 2
    ;;
esac
