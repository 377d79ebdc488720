#!/usr/bin/env bash
# Issue 25's GPU checks as one prepared command for a lent GPU machine (the `device` tool; CI never has one).
#
#   bash bench/gpu_device_check.sh prepare
#       here, with a package index: downloads into .whl/ (git-ignored through .git/info/exclude) the
#       CPython 3.12 x86-64 wheels that the GPU machine's image lacks (its python3 is 3.12 with numpy,
#       scipy, scikit-learn, numba, h5py, matplotlib, statsmodels and cupy; no scanpy stack), at the
#       versions constraints.txt pins (~31 MB); with the tracked files (50 MB) that is over the 64 MiB that
#       travels with a call, so tests/data (40 MB, read by no GPU check) leaves the index meanwhile (its files
#       stay; `restore` puts it back after the device run).
#   bash bench/gpu_device_check.sh run [CELLS] [BIG]
#       there (device run with carry [".whl"], timeout 600 s): installs the wheels into /tmp/site, prints
#       the GPU, then in order of what is worth most if the command runs out of time: the cupy tests of the
#       exact kNN (seconds); bench/gpu_knn.py at CELLS (k-means lists against all against all, and float32);
#       bench/sc_scale.py --gpu at CELLS (default 100000) without doublet scores: the CPU job and the GPU job
#       in one run, times per step, host and device memory, agreement; with BIG (e.g. 1000000) the GPU job
#       alone at BIG cells (--no-cpu), its file written in the background meanwhile, and bench/gpu_knn.py's
#       lists alone at BIG; last the other GPU variants of the single-cell tests (cupy: blocked QC, embedding
#       agreement, UMAP layout, pseudobulk sums; 131 s on the H200). Output and results JSON go to $OUT.
#       On the H200 on 2026-12-04 `run 100000 1000000` reached the 1M job after ~6.5 min with the tests
#       first; they now come last.
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
    # the tree that travels (tracked files and the carried wheels) must stay under 64 MiB: tests/data (40 MB of
    # R reference tables that no GPU check reads) leaves the index and is ignored until `restore`; its files stay
    tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
    if [ $((tracked + $(du -sb .whl | cut -f1))) -gt $((60 * 2**20)) ]; then
        grep -qx '/tests/data/' .git/info/exclude || echo '/tests/data/' >> .git/info/exclude
        git rm -r -q --cached tests/data
        echo "tests/data taken out of the index for the device run: after it, bash bench/gpu_device_check.sh restore"
    fi
    ;;
restore)
    git reset -q tests/data
    sed -i '\#^/tests/data/$#d' .git/info/exclude
    git status --short tests/data | head -3
    ;;
run)
    cells=${2:-100000}
    big=${3:-}
    out=${OUT:-/tmp/gpu_check_out}
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD/workflow PYTHONUNBUFFERED=1
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; free -g | head -2
      python3 -c "import cupy, numpy, scanpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'scanpy', scanpy.__version__)"
    } 2>&1 | tee "$out/machine.txt"
    if [ -n "$big" ]; then  # the BIG file written beside the CELLS runs (one more core and the disk busy meanwhile)
        python3 bench/sc_scale.py --cells "$big" --make-only --workdir /tmp/sc_scale > "$out/make_big.txt" 2>&1 &
        maker=$!
    fi
    python3 -m pytest -q -p no:cacheprovider -p no:randomly tests/unit/test_cell_knn.py -k cupy -rs 2>&1 \
        | tee "$out/gpu_tests_knn.txt" || true
    python3 bench/gpu_knn.py --cells "$cells" --float32 2>&1 | tee "$out/gpu_knn.txt"  # exact kNN alone
    python3 bench/sc_scale.py --cells "$cells" --doublets none --gpu --workdir /tmp/sc_scale 2>&1 \
        | grep --line-buffered -v "scanned\|read the" | tee "$out/sc_scale.txt"
    cp /tmp/sc_scale/results_*.json "$out/" 2>/dev/null || true
    if [ -n "$big" ]; then  # the GPU job alone at BIG cells: the CPU job there does not fit one command
        wait "$maker"
        python3 bench/sc_scale.py --cells "$big" --doublets none --gpu --no-cpu --workdir /tmp/sc_scale 2>&1 \
            | grep --line-buffered -v "scanned\|read the" | tee "$out/sc_scale_big.txt"
        cp /tmp/sc_scale/results_*.json "$out/" 2>/dev/null || true
        python3 bench/gpu_knn.py --cells "$big" --no-all-pairs 2>&1 | tee -a "$out/gpu_knn.txt"
    fi
    # the tests last (131 s on the H200 on 2026-12-04): the measurements first if the command runs out of time;
    # a failing test stops nothing
    python3 -m pytest -q -p no:cacheprovider -p no:randomly tests/unit/test_cell_blocks.py tests/unit/test_gpu.py \
        -k "gpu or cupy" -rs 2>&1 | tee "$out/gpu_tests.txt" || true
    ;;
*)
    echo "usage: bash bench/gpu_device_check.sh prepare | run [CELLS] [BIG] | restore" >&2
    exit 2
    ;;
esac
