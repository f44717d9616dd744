#!/usr/bin/env python3
"""Prints the Java and PyTorch summaries of one comparison as one Markdown table.

Usage: side_by_side.py JAVA_JSON PYTORCH_JSON [TITLE]
The files are examples/bin/compare's --json-out and train_pytorch.py's --json-out: {"setup": ...,
"activations": {NAME: ...}}, each activation with the same fields (imagesPerSecondMean, bestMean,
firstEpochMean, finalLossMean). Standard library only.
"""

import json
import sys


def number(value, digits):
    """JSON null (a diverged loss on the Java side) prints as NaN."""
    return "NaN" if value is None else f"{value:.{digits}f}"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.splitlines()[2])
    with open(sys.argv[1]) as java_file, open(sys.argv[2]) as pytorch_file:
        java, pytorch = json.load(java_file)["activations"], json.load(pytorch_file)["activations"]
    if len(sys.argv) == 4:
        print(sys.argv[3] + "\n")
    print("| activation | Java img/s | PyTorch img/s | Java / PyTorch | Java best acc (%) | PyTorch best acc (%) "
          "| Java 1st epoch (%) | PyTorch 1st epoch (%) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in java:
        if name not in pytorch:
            continue
        j, p = java[name], pytorch[name]
        ratio = j["imagesPerSecondMean"] / p["imagesPerSecondMean"]
        print(f"| {name} | {j['imagesPerSecondMean']:.0f} | {p['imagesPerSecondMean']:.0f} | {ratio:.2f} | "
              f"{number(j['bestMean'], 2)} | {number(p['bestMean'], 2)} | {number(j['firstEpochMean'], 2)} | "
              f"{number(p['firstEpochMean'], 2)} |")


if __name__ == "__main__":
    main()
