#!/usr/bin/env bash
# Creates .venv: Debian's torch/torchvision (system site-packages) plus the pip packages the
# tests and tools need. Debian's torch 1.13 breaks under numpy 2, hence the pins.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/pip install -q --disable-pip-version-check \
    'numpy<2' 'pycocotools' 'safetensors' 'scikit-image<0.25' 'tritonclient[http]' 'kubernetes-validate' 'pyyaml' 'openapi-spec-validator' 'prometheus-client'
.venv/bin/python -c "import torch, torchvision, pycocotools, numpy; print('python env ok: torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__)"
