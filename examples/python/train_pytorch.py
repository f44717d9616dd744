#!/usr/bin/env python3
"""The examples' training with PyTorch in Python, under the protocol of examples/bin/compare, to compare speed.

The same networks (--net ConvMNIST: 3 x conv/max-pool/activation, 10/20/40 channels, kernels 5/5/3, linear
40 -> 10, log-softmax; --net ResNet: the Java side's small ResNet with BatchNorm), NLL loss, SGD with
momentum 0.9 (or Adam), batch 128, MNIST's normalization (or none, --normalize none), seeds per run, test accuracy after every epoch. AReLU is the paper's official formula relu(x) * b - relu(-x) * a with
a = clamp(alpha, 0.01, 0.99) and b = 1 + sigmoid(beta), alpha 0.9 and beta 2.0 as parameters.

images/s counts training only: training images of an epoch over the time of its training steps, the test
pass left out, averaged over epochs, as the Java side reports it. Initial weights and batch order are the
Java side's too (libtorch's generator seeded and drawn in the same order; java.util.Random's shuffle
re-implemented below), so the two sides differ only in their kernels' rounding.

Needs PyTorch: on Debian `apt-get install python3-torch` (1.13), run with /usr/bin/python3.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time
from pathlib import Path

PROGRAM = os.path.basename(sys.argv[0])
DEBIAN_DATA_PACKAGE = "dataset-fashion-mnist"
DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
EVALUATION_BATCH = 1000
WARM_UP_STEPS = 10  # Trainer.WARM_UP_STEPS
ALIASES = {"swish": "SiLU"}  # ActivationSpec's aliases
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


def import_torch():
    """PyTorch, or an exit that says what is missing and how to get it."""
    try:
        import torch
    except ImportError as error:
        sys.exit(f"{PROGRAM}: PyTorch is not importable by {sys.executable} ({error}).\n"
                 "On Debian: apt-get install python3-torch (PyTorch 1.13), then run this script with "
                 "/usr/bin/python3, which is what examples/bin/compare-pytorch uses.")
    return torch


torch = import_torch()
nn = torch.nn
F = torch.nn.functional


class AReLU(nn.Module):
    """The paper's AReLU, as its public code computes it; with channels > 1 one alpha and beta per channel of
    dimension 1 (the Java side's AReLU-channelwise), broadcast over the rest."""

    def __init__(self, channels=1, alpha=0.90, beta=2.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.full([channels], alpha))
        self.beta = nn.Parameter(torch.full([channels], beta))

    def forward(self, x):
        shape = [1, -1] + [1] * (x.dim() - 2) if self.alpha.numel() > 1 else [1]
        negative_scale = torch.clamp(self.alpha, min=0.01, max=0.99).view(shape)
        positive_scale = (1 + torch.sigmoid(self.beta)).view(shape)
        return F.relu(x) * positive_scale - F.relu(-x) * negative_scale


def per_layer(module_class):
    """A factory that ignores the layer's channel count: one set of parameters per layer, if any."""
    return lambda channels: module_class()


# The Java side's names (ActivationSpec), each with PyTorch's default options; a factory takes the layer's
# channel count, which only the channel-wise AReLU uses.
ACTIVATIONS = {
    "AReLU": per_layer(AReLU), "AReLU-channelwise": AReLU, "ReLU": per_layer(nn.ReLU),
    "ReLU6": per_layer(nn.ReLU6), "LeakyReLU": per_layer(nn.LeakyReLU), "PReLU": per_layer(nn.PReLU),
    "RReLU": per_layer(nn.RReLU), "ELU": per_layer(nn.ELU), "CELU": per_layer(nn.CELU), "SELU": per_layer(nn.SELU),
    "GELU": per_layer(nn.GELU), "Sigmoid": per_layer(nn.Sigmoid), "Tanh": per_layer(nn.Tanh),
    "Softplus": per_layer(nn.Softplus), "SiLU": per_layer(nn.SiLU), "Mish": per_layer(nn.Mish),
}


class ConvMNIST(nn.Module):
    """28 -> 24 -> 12, 12 -> 8 -> 4, 4 -> 2 -> 1: the last block leaves 40 features for the classifier."""

    def __init__(self, activation, classes=10):
        super().__init__()
        # Made in forward order, as on the Java side, so a seed fixes the weights whatever the activation.
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.activation1 = activation(10)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.activation2 = activation(20)
        self.conv3 = nn.Conv2d(20, 40, 3)
        self.activation3 = activation(40)
        self.classifier = nn.Linear(40, classes)

    def forward(self, images):
        x = self.activation1(F.max_pool2d(self.conv1(images), 2))
        x = self.activation2(F.max_pool2d(self.conv2(x), 2))
        x = self.activation3(F.max_pool2d(self.conv3(x), 2))
        return F.log_softmax(self.classifier(x.flatten(1)), dim=1)


def conv(in_channels, out_channels, kernel, stride):
    """A bias-free convolution (BatchNorm follows) with "same" padding for odd kernels, as the Java side's."""
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, the activation after the first and after the residual sum."""

    def __init__(self, activation, in_channels, out_channels, stride):
        super().__init__()
        # The Java side's registration order, so that the seeded generator gives the same weights.
        self.conv1 = conv(in_channels, out_channels, 3, stride)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.activation1 = activation(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, 1)
        self.norm2 = nn.BatchNorm2d(out_channels)
        projected = in_channels != out_channels or stride != 1
        self.shortcut = conv(in_channels, out_channels, 1, stride) if projected else None
        self.shortcut_norm = nn.BatchNorm2d(out_channels) if projected else None
        self.activation2 = activation(out_channels)

    def forward(self, x):
        y = self.norm2(self.conv2(self.activation1(self.norm1(self.conv1(x)))))
        identity = x if self.shortcut is None else self.shortcut_norm(self.shortcut(x))
        return self.activation2(y + identity)


class ResNet(nn.Module):
    """The Java side's --net ResNet: a 3x3 stem to 16 channels, three stages of two basic blocks at 16, 32 and
    64 channels (the first block of stages 2 and 3 halves the resolution, 1x1 convolution on its shortcut),
    BatchNorm after every convolution, global average pooling, a linear classifier: 13 activation layers."""

    def __init__(self, activation, classes=10):
        super().__init__()
        self.stem = conv(1, 16, 3, 1)
        self.stem_norm = nn.BatchNorm2d(16)
        self.stem_activation = activation(16)
        plan = [(16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]
        self.blocks = nn.ModuleList([BasicBlock(activation, *step) for step in plan])
        self.classifier = nn.Linear(64, classes)

    def forward(self, images):
        x = self.stem_activation(self.stem_norm(self.stem(images)))
        for block in self.blocks:
            x = block(x)
        return F.log_softmax(self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1)), dim=1)


NETWORKS = {"ConvMNIST": ConvMNIST, "ResNet": ResNet}


class JavaRandom:
    """java.util.Random's generator (a 48-bit linear congruence) and nextInt(bound), as the Java side shuffles."""

    MULTIPLIER = 0x5DEECE66D
    MASK = (1 << 48) - 1

    def __init__(self, seed):
        self.state = (seed ^ self.MULTIPLIER) & self.MASK

    def next31(self):
        self.state = (self.state * self.MULTIPLIER + 0xB) & self.MASK
        return self.state >> 17

    def next_int(self, bound):
        bits = self.next31()
        if bound & (bound - 1) == 0:
            return (bound * bits) >> 31
        value = bits % bound
        # Java retries while bits - value + bound - 1 overflows a signed 32-bit int.
        while bits - value + bound - 1 >= 1 << 31:
            bits = self.next31()
            value = bits % bound
        return value

    def shuffled_indices(self, count):
        """Trainer.shuffledIndices: Fisher-Yates from the end."""
        indices = list(range(count))
        for i in range(count - 1, 0, -1):
            j = self.next_int(i + 1)
            indices[i], indices[j] = indices[j], indices[i]
        return torch.tensor(indices)


def read_idx(directory, base_name, magic):
    """The sizes and bytes of an unsigned-byte IDX file, gzipped (detected by content) or not."""
    for name in (base_name, base_name + ".gz"):
        path = directory / name
        if path.is_file():
            break
    else:
        sys.exit(f"{PROGRAM}: neither {base_name} nor {base_name}.gz is in {directory}. Install Fashion-MNIST "
                 f"with 'apt-get install {DEBIAN_DATA_PACKAGE}' (it fills {DEFAULT_DATA}) or pass --data DIR "
                 "with MNIST-format IDX files.")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    dimensions = magic & 0xFF
    header = 4 + 4 * dimensions
    if len(data) < header or struct.unpack(">I", data[:4])[0] != magic:
        sys.exit(f"{PROGRAM}: {path} is not an IDX file of unsigned bytes with {dimensions} dimension(s)")
    sizes = struct.unpack(">" + "I" * dimensions, data[4:header])
    count = 1
    for size in sizes:
        count *= size
    if len(data) - header < count:
        sys.exit(f"{PROGRAM}: {path} is truncated: {len(data) - header} of {count} data bytes")
    return sizes, bytearray(data[header:header + count])


def load_split(directory, prefix, limit, normalize):
    """float32 images [N, 1, 28, 28] in [0, 1], normalized with MNIST's mean and std if `normalize` is 'mnist',
    and int64 labels [N]; the first `limit` only if > 0."""
    sizes, pixels = read_idx(directory, f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC)
    (label_count,), labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC)
    if sizes[0] != label_count:
        sys.exit(f"{PROGRAM}: {prefix}: {sizes[0]} images but {label_count} labels in {directory}")
    images = torch.frombuffer(pixels, dtype=torch.uint8).reshape(sizes[0], 1, sizes[1], sizes[2])
    labels = torch.frombuffer(labels, dtype=torch.uint8).long()
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    images = images.float() / 255
    if normalize == "mnist":
        images = (images - MNIST_MEAN) / MNIST_STD
    return images.contiguous(), labels.contiguous()


def accuracy(network, images, labels):
    network.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), EVALUATION_BATCH):
            predicted = network(images[start:start + EVALUATION_BATCH]).argmax(1)
            correct += (predicted == labels[start:start + EVALUATION_BATCH]).sum().item()
    network.train()
    return 100.0 * correct / len(labels)


def train_run(activation_name, seed, args, train, test):
    """One run: per-epoch training loss, test accuracy and training throughput."""
    torch.manual_seed(seed)
    network = NETWORKS[args.net](ACTIVATIONS[activation_name])
    if args.optimizer == "SGD":
        optimizer = torch.optim.SGD(network.parameters(), lr=args.lr, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(network.parameters(), lr=args.lr)
    shuffle = JavaRandom(seed)
    images, labels = train
    count = len(labels)
    history = {"trainLoss": [], "testAccuracy": [], "imagesPerSecond": []}
    run_start = time.perf_counter()
    for epoch in range(args.epochs):
        order = shuffle.shuffled_indices(count)
        loss_sum = 0.0
        epoch_start = time.perf_counter()
        for start in range(0, count, args.batch_size):
            batch = order[start:start + args.batch_size]
            optimizer.zero_grad()
            loss = F.nll_loss(network(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
        training_seconds = time.perf_counter() - epoch_start
        history["trainLoss"].append(loss_sum / count)
        history["testAccuracy"].append(accuracy(network, *test))
        history["imagesPerSecond"].append(count / training_seconds)
        print(f"{activation_name:<9} seed {seed} epoch {epoch + 1}/{args.epochs}: {count} images, "
              f"{history['imagesPerSecond'][-1]:.0f} img/s training, loss {history['trainLoss'][-1]:.4f}, "
              f"test accuracy {history['testAccuracy'][-1]:.2f} %", file=sys.stderr, flush=True)
    history["seconds"] = time.perf_counter() - run_start
    return history


def warm_up(activation_name, args, train):
    """Trainer.warmUp: WARM_UP_STEPS untimed SGD steps on the first batch, with a network of their own."""
    network = NETWORKS[args.net](ACTIVATIONS[activation_name])
    optimizer = torch.optim.SGD(network.parameters(), lr=1e-4, momentum=0.9)
    images, labels = train
    batch = slice(0, min(args.batch_size, len(labels)))
    for _ in range(WARM_UP_STEPS):
        optimizer.zero_grad()
        F.nll_loss(network(images[batch]), labels[batch]).backward()
        optimizer.step()


def mean(values):
    return sum(values) / len(values)


def summarize(runs):
    """The Java side's JSON fields (Reports.toJson), from a list of run histories."""
    return {
        "firstEpochMean": mean([run["testAccuracy"][0] for run in runs]),
        "bestMean": mean([max(run["testAccuracy"]) for run in runs]),
        "finalLossMean": mean([run["trainLoss"][-1] for run in runs]),
        "imagesPerSecondMean": mean([mean(run["imagesPerSecond"]) for run in runs]),
        "runs": runs,
    }


def allocator():
    """The malloc this process runs on, from the libraries mapped into it."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError as error:
        return f"unknown ({error})"
    return "tcmalloc" if "libtcmalloc" in maps else "jemalloc" if "libjemalloc" in maps else "glibc malloc"


def blas():
    """The BLAS this process's PyTorch computes with, from the libraries mapped into it. Debian's python3-torch
    takes whichever libblas.so.3 the system's alternatives give: the netlib reference one, single-threaded and
    slow, unless an optimized one (libopenblas0-pthread, for instance) is installed; it decides the speed of
    convolutions without oneDNN."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError as error:
        return f"unknown ({error})"
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "/" in line and (
        "blas" in line.split()[-1].lower() or "mkl" in line.split()[-1].lower())})
    names = " ".join(paths).lower()
    if "openblas" in names:
        return "OpenBLAS"
    if "mkl" in names:
        return "MKL"
    if "blis" in names:
        return "BLIS"
    if "/blas/libblas" in names:
        return "netlib reference BLAS (single-threaded; apt-get install libopenblas0-pthread for a fast one)"
    return "unknown (" + (", ".join(paths) or "no BLAS library mapped") + ")"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"directory with MNIST-format IDX files, gzipped or not (default: {DEFAULT_DATA})")
    parser.add_argument("--net", choices=list(NETWORKS), default="ConvMNIST")
    parser.add_argument("--activations", default="AReLU,ReLU,PReLU",
                        help="comma-separated, or 'all' (default: %(default)s); known: " + ", ".join(ACTIVATIONS))
    parser.add_argument("--optimizer", choices=["SGD", "Adam"], default="SGD")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="runs per activation, seeds SEED, SEED+1, ...")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-limit", type=int, default=0, help="first N training images only")
    parser.add_argument("--test-limit", type=int, default=0, help="first N test images only")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads (default: %(default)s, this machine's cores)")
    parser.add_argument("--normalize", choices=["mnist", "none"], default="mnist",
                        help="normalize the [0, 1] pixels with MNIST's mean and std, or not (as the paper's code); "
                             "as the Java side's --normalize")
    parser.add_argument("--no-mkldnn", action="store_true",
                        help="switch oneDNN off, as the Java side does where its start-up check refuses bytedeco's oneDNN")
    parser.add_argument("--json-out", type=Path, help="write the summary as JSON, in the Java side's fields")
    parser.add_argument("--check-arguments", action="store_true",
                        help="check the options and stop (examples/bin/compare-pytorch does, before the Java side runs)")
    args = parser.parse_args()
    for name in ("epochs", "runs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0:
        parser.error("--lr must be a positive number")
    for name in ("train_limit", "test_limit"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 (all images) or more")
    try:
        args.activations = parse_activations(args.activations)
    except ValueError as error:
        parser.error(str(error))
    return args


def parse_activations(comma_separated):
    """ActivationSpec.parseList's rules: 'all', or names in any case (Swish for SiLU), none empty or twice."""
    if comma_separated.strip().lower() == "all":
        return list(ACTIVATIONS)
    by_lower_case = {name.lower(): name for name in ACTIVATIONS}
    selected = []
    for name in comma_separated.split(","):
        wanted = ALIASES.get(name.strip().lower(), name.strip()).lower()
        if not wanted:
            raise ValueError(f"empty activation name in '{comma_separated}'; known: {', '.join(ACTIVATIONS)}")
        if wanted not in by_lower_case:
            raise ValueError(f"unknown activation '{name.strip()}'; known: {', '.join(ACTIVATIONS)} (or 'all'; Swish "
                             "is an alias of SiLU)")
        if by_lower_case[wanted] in selected:
            raise ValueError(f"activation {by_lower_case[wanted]} is listed twice in '{comma_separated}'")
        selected.append(by_lower_case[wanted])
    return selected


def main():
    args = parse_arguments()
    if args.check_arguments:
        return
    torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    train = load_split(args.data, "train", args.train_limit, args.normalize)
    test = load_split(args.data, "t10k", args.test_limit, args.normalize)
    # As Trainer.warmUp before the Java side's runs: the first steps of a process pay for its allocator's and
    # libraries' first use, which would otherwise slow the first activation's first epoch.
    for name in args.activations:
        warm_up(name, args, train)
    results = {}
    for name in args.activations:
        results[name] = summarize([train_run(name, args.seed + run, args, train, test) for run in range(args.runs)])

    setup = (f"Data: {args.data}, {len(train[1])} training and {len(test[1])} test images. {args.net}, "
             f"{'SGD (momentum 0.9)' if args.optimizer == 'SGD' else 'Adam'}, batch {args.batch_size}, "
             f"{args.runs} run(s) from seed {args.seed}, lr {args.lr}, {args.epochs} epoch(s).")
    print("\n" + setup)
    print(f"PyTorch {torch.__version__}, Python {sys.version.split()[0]}. Threads: {torch.get_num_threads()}. "
          f"oneDNN: {'on' if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else 'off'}. "
          f"Memory allocator: {allocator()}. BLAS: {blas()}.")
    print(f"{'activation':<10} | {'1st epoch acc (%)':>17} | {'best acc (%)':>12} | {'final loss':>10} | {'img/s':>7}")
    for name, result in results.items():
        print(f"{name:<10} | {result['firstEpochMean']:17.2f} | {result['bestMean']:12.2f} | "
              f"{result['finalLossMean']:10.4f} | {result['imagesPerSecondMean']:7.0f}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"setup": setup, "activations": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
