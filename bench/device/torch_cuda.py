"""Runs the shared PyTorch reference (perf/reference/sam2_bench.py, CPU-only as written) on CUDA, unchanged.

    python3 bench/device/torch_cuda.py [--autocast bf16] SAM2_BENCH_PY [its options]

Every tensor it makes lands on the GPU (torch's default device), and each timer read waits for the GPU
first, so a timed span holds the kernels it launched, not just their launches. REF_SAM2 defaults to the
official source beside the script (bench/device/prepare.sh puts it there).
"""
import argparse
import contextlib
import os
import re
import runpy
import sys
import time
import types

import torch
import yaml


class ConfigLoader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, plus exponents without a decimal point as floats, as OmegaConf reads them
    (the configs' layer_scale_init_value: 1e-6 would otherwise be a string)."""


ConfigLoader.add_implicit_resolver(
    'tag:yaml.org,2002:float', re.compile(r'^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$'), list('-+0123456789'))


def omegaconf_from_yaml() -> types.ModuleType:
    """sam2_shim.py reads the model configs through OmegaConf, which the device machine lacks; the SAM 2.1
    configs hold no interpolations, so YAML read as OmegaConf reads it gives the same dictionaries."""
    module = types.ModuleType('omegaconf')

    class OmegaConf:
        @staticmethod
        def load(path):
            with open(path) as f:
                return yaml.load(f, ConfigLoader)

        @staticmethod
        def to_container(config, resolve=True):
            return config

    module.OmegaConf = OmegaConf
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--autocast', choices=['bf16'])
    parser.add_argument('script')
    args, rest = parser.parse_known_args()
    if not torch.cuda.is_available():
        sys.exit('torch_cuda: PyTorch sees no CUDA device')
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        sys.modules['omegaconf'] = omegaconf_from_yaml()
    os.environ.setdefault('REF_SAM2', os.path.dirname(os.path.abspath(args.script)))
    torch.set_default_device('cuda')
    wall = time.perf_counter

    def synchronized():
        torch.cuda.synchronize()
        return wall()

    time.perf_counter = synchronized
    sys.argv = [args.script, *rest]
    autocast = torch.autocast('cuda', dtype=torch.bfloat16) if args.autocast else contextlib.nullcontext()
    with autocast:
        runpy.run_path(args.script, run_name='__main__')


if __name__ == '__main__':
    main()
