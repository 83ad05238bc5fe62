"""The Chinese encoder's build time, and whether a build is the same model as the one in the cache.

    python bench/chinese_build.py                      # the CPU preset into runs/zh-build: about 35 minutes on 2 cores
    python bench/chinese_build.py --out DIR --threads 2

Builds the default Chinese teacher and its student (`minidistil.recipes.chinese.TEACHER`, `STUDENT`: the
settings `python -m minidistil adapt-teacher --language zh` builds) from nothing in a scratch folder,
beside the cache rather than in it, so the cached models are never touched. It prints each build's
wall time, and, when the cache holds a finished build of the same settings, whether the new weights
are bitwise the cached ones: the loop seeds every micro-batch from (seed, step, micro-batch), so on
the same machine and torch a rebuild is the same model (another CPU rounds differently). Run it on
idle cores: the time goal (teacher and student together at most 40 minutes) is a figure for 2 idle
cores, and a second job on the same cores shows up in the times at once.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from common import cpu_name
from minidistil.recipes import chinese
from minidistil.utils.builds import sha256


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/zh-build", help="scratch folder (emptied first)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    print(f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    start = time.perf_counter()
    chinese.build_teacher(chinese.TEACHER, out / "teacher")
    teacher_s = time.perf_counter() - start
    chinese.build_student(out / "teacher" / "model", out / "student", chinese.STUDENT)
    student_s = time.perf_counter() - start - teacher_s
    print(f"teacher {teacher_s / 60:.1f} min, student {student_s / 60:.1f} min, "
          f"together {(teacher_s + student_s) / 60:.1f} min (goal: at most 40 on 2 idle cores)")

    same = {}
    for name, cached in (("teacher", chinese.teacher_root()), ("student", chinese.student_root())):
        weights = cached / "model" / "model.safetensors"
        if weights.exists():
            same[name] = sha256(out / name / "model" / "model.safetensors") == sha256(weights)
            print(f"{name}: {'bitwise the cached model' if same[name] else 'differs from the cached model'} ({cached})")
    (out / "times.json").write_text(json.dumps({"cpu": cpu_name(), "threads": torch.get_num_threads(),
                                                "teacher_s": teacher_s, "student_s": student_s,
                                                "same_as_cache": same}, indent=2) + "\n")


if __name__ == "__main__":
    main()
