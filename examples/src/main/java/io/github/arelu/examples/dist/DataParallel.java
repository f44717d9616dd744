package io.github.arelu.examples.dist;

import java.io.IOException;
import java.lang.ref.Reference;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

import io.github.arelu.examples.train.GradientSync;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * This process's place in a data-parallel group, on libtorch's c10d: a {@link TCPStore} that rank 0 serves
 * for the rendezvous, and a {@link ProcessGroupGloo} for the collectives (broadcast, all-reduce, barrier)
 * over TCP.
 *
 * <p>Every rank trains the same network on its own slice ({@link #shard}) of every global batch. Each rank
 * scales its shard's mean loss by {@code shard size / global batch size} before the backward pass, so that
 * the sum over ranks of the gradients, which {@link #sumGradients} computes, is the gradient of the global
 * batch's mean loss: the same update as one process training on the whole batch, also when the last batch
 * does not divide evenly (a shard may even be empty). All collectives are called in the same order by every
 * rank, as c10d requires.
 *
 * <p>Faults: a rank that dies closes its TCP connections and the others' next collective fails at once; a
 * rank that hangs, or never arrives, makes the others fail once {@code timeout} has passed. Either way the
 * failure is a {@link DataParallelException} that says what happened, never a hang. The messages speak of
 * ranks, world sizes and timeouts; how a user sets them is for the program that started the group to say.
 */
public final class DataParallel implements GradientSync {

    /** Keys of our own rendezvous in the store; gloo's own keys have other names. */
    private static final String KEY_PREFIX = "arelu/";
    private static final String VERDICT_OK = "ok";

    /** Where rank 0 serves the store, as {@code HOST:PORT}. */
    public record Master(String host, int port) {

        public Master {
            if (host.isEmpty()) {
                throw new IllegalArgumentException("the master's host is empty");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("the master's port must be 1 to 65535, got " + port);
            }
        }

        /** Parses {@code HOST:PORT}; an IPv6 address goes in brackets, {@code [::1]:29500}. */
        public static Master parse(String text) {
            int colon = text.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("expected HOST:PORT, got '" + text + "'");
            }
            String host = text.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(text.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the port in '" + text + "' is not a number");
            }
            return new Master(host, port);
        }

        @Override
        public String toString() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    private final ProcessGroupGloo group;
    private final int rank;
    private final int worldSize;
    private final Duration timeout;
    private long allReduceNanos;
    /** The seed {@link #startFrom} last gave this rank's generator, if it has ({@code reseeded}). */
    private long reseededTo;
    private boolean reseeded;

    /** The group keeps the store (and with it, on rank 0, the store's server) alive as long as it lives. */
    private DataParallel(ProcessGroupGloo group, int rank, int worldSize, Duration timeout) {
        this.group = group;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
    }

    /**
     * Joins the group: rank 0 serves the store at {@code master}'s port, the others connect to it, all check
     * that they agree on the world size and the setup and that no rank is missing or taken twice, then connect
     * gloo.
     *
     * @param glooInterface the network interface gloo's TCP pairs use (such as {@code eth0}), or null for
     *     the loopback when the master is a loopback address and the address of this machine's host name
     *     otherwise
     * @param timeout how long the rendezvous and every later collective may wait for the other ranks
     * @param setup what every rank must agree on to train together (options, data), by the name the user
     *     knows it by (such as {@code --lr}): a rank that differs from rank 0 in any entry stops the group,
     *     since the collectives would otherwise mix differently trained models without an error; keys and
     *     values without line breaks or {@code =} in keys
     * @throws DataParallelException when the group cannot be formed, saying why
     */
    public static DataParallel connect(Master master, int rank, int worldSize, Duration timeout,
            String glooInterface, Map<String, String> setup) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " is not in a world of size " + worldSize);
        }
        InetAddress masterAddress;
        try {
            masterAddress = InetAddress.getByName(master.host());
        } catch (UnknownHostException e) {
            throw new DataParallelException(DataParallelException.Reason.MASTER_UNAVAILABLE,
                    "cannot resolve the master's host name '" + master.host() + "'", e);
        }
        // Before the store: a rank with a wrong interface stops at once, and the others are told it never arrived.
        org.bytedeco.pytorch.gloo.Device device = glooDevice(glooInterface, masterAddress);
        TCPStore store = openStore(master, rank, timeout);
        rendezvous(store, master, rank, worldSize, timeout, encode(setup),
                GlooAddress.of(glooInterface, masterAddress).bound(device.str().getString()).encoded());
        ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(milliseconds(timeout));
        options.devices().push_back(device);
        try {
            return new DataParallel(new ProcessGroupGloo(store, rank, worldSize, options), rank, worldSize, timeout);
        } catch (RuntimeException e) {
            throw new DataParallelException(DataParallelException.Reason.TIMED_OUT, "rank " + rank
                    + ": gloo could not connect to the other ranks within "
                    + seconds(timeout) + ": " + firstLine(e), e);
        }
    }

    private static TCPStore openStore(Master master, int rank, Duration timeout) {
        TCPStoreOptions options = new TCPStoreOptions();
        options.port((short) master.port());
        options.isServer(rank == 0);
        options.waitWorkers(false);
        options.timeout(milliseconds(timeout));
        try {
            return new TCPStore(master.host(), options);
        } catch (RuntimeException e) {
            String message = firstLine(e);
            if (rank == 0 && isAddressInUse(message)) {
                throw new DataParallelException(DataParallelException.Reason.MASTER_PORT_IN_USE, "rank 0 cannot "
                        + "serve the rendezvous store: port " + master.port() + " is already in use on this machine "
                        + "(another run, or another program); the master needs a free one", e);
            }
            if (rank == 0) {
                throw new DataParallelException(DataParallelException.Reason.MASTER_UNAVAILABLE, "rank 0 cannot "
                        + "serve the rendezvous store on port " + master.port() + ": " + message, e);
            }
            throw new DataParallelException(DataParallelException.Reason.MASTER_UNAVAILABLE, "rank " + rank
                    + " cannot reach the master at " + master + " within "
                    + seconds(timeout) + " (is rank 0 running there, and is the port open in its firewall?): "
                    + message, e);
        }
    }

    private static boolean isAddressInUse(String message) {
        String lower = message.toLowerCase(Locale.ROOT);
        return lower.contains("eaddrinuse") || lower.contains("address already in use");
    }

    /**
     * Our own checks before gloo connects, so that a wrong setup fails with a message naming it rather than
     * with a timeout inside gloo: every rank claims its number and announces its setup, then its world size;
     * rank 0 waits for all and publishes a verdict, which the others wait for.
     */
    private static void rendezvous(TCPStore store, Master master, int rank, int worldSize, Duration timeout,
            String setup, String glooAddress) {
        long claims = store.add(KEY_PREFIX + "claims/" + rank, 1);
        if (claims > 1) {
            throw new DataParallelException(DataParallelException.Reason.RANK_TAKEN, "rank " + rank
                    + " is already taken by another process at " + master + "; every process needs its own rank");
        }
        // The setup and gloo's address first: rank 0 reads them once it sees the world size.
        store.set(KEY_PREFIX + "setup/" + rank, setup);
        store.set(KEY_PREFIX + "gloo/" + rank, glooAddress);
        store.set(KEY_PREFIX + "world-size/" + rank, Integer.toString(worldSize));
        if (rank == 0) {
            Verdict verdict = checkArrivals(store, master, worldSize, timeout, setup);
            store.set(KEY_PREFIX + "verdict", verdict.encoded());
            if (verdict.reason() != null) {
                // The others read the verdict from our store: give them a moment before this process (and
                // the store with it) goes away.
                awaitKey(store, KEY_PREFIX + "verdict-read/" + (worldSize - 1), Duration.ofSeconds(2));
                throw new DataParallelException(verdict.reason(), verdict.message());
            }
        } else {
            String verdictKey = KEY_PREFIX + "verdict";
            // Rank 0 waits up to the timeout for the last arrival before it decides: give it that and more.
            Duration verdictTimeout = timeout.multipliedBy(2);
            // Rank 0 checks the ranks of its own world only: one started with a larger world size and a rank
            // beyond rank 0's would otherwise be told "ok" and wait in gloo for peers that never come.
            String rank0WorldSize = KEY_PREFIX + "world-size/0";
            if (awaitKey(store, rank0WorldSize, verdictTimeout)) {
                String theirs = store.get_to_str(rank0WorldSize);
                if (!theirs.equals(Integer.toString(worldSize))) {
                    throw new DataParallelException(DataParallelException.Reason.WORLD_SIZE_MISMATCH, "rank " + rank
                            + " was started with world size " + worldSize + ", rank 0 with " + theirs
                            + "; all processes need the same world size");
                }
            }
            if (!awaitKey(store, verdictKey, verdictTimeout)) {
                throw new DataParallelException(DataParallelException.Reason.TIMED_OUT, "rank " + rank
                        + " reached the master at " + master + " but rank 0 did not confirm the group within "
                        + seconds(verdictTimeout));
            }
            Verdict verdict = Verdict.decode(store.get_to_str(verdictKey));
            store.set(KEY_PREFIX + "verdict-read/" + store.add(KEY_PREFIX + "verdicts-read", 1), "");
            if (verdict.reason() != null) {
                throw new DataParallelException(verdict.reason(), "rank 0 refused the group: " + verdict.message());
            }
        }
    }

    /**
     * Rank 0's decision, which the other ranks read from the store as {@code REASON:message}: a null reason
     * for "ok", else what is wrong.
     */
    record Verdict(DataParallelException.Reason reason, String message) {

        static final Verdict OK = new Verdict(null, VERDICT_OK);

        String encoded() {
            return reason == null ? VERDICT_OK : reason.name() + ":" + message;
        }

        static Verdict decode(String text) {
            int colon = text.indexOf(':');
            return colon < 0 ? OK : new Verdict(DataParallelException.Reason.valueOf(text.substring(0, colon)),
                    text.substring(colon + 1));
        }
    }

    /**
     * OK, or what is wrong: a rank missing after {@code timeout}, or started with another world size or
     * another setup than rank 0's {@code setup}.
     */
    private static Verdict checkArrivals(TCPStore store, Master master, int worldSize, Duration timeout,
            String setup) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Integer> missing = new ArrayList<>();
        for (int other = 1; other < worldSize; other++) {
            String key = KEY_PREFIX + "world-size/" + other;
            Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
            if (!awaitKey(store, key, left)) {
                missing.add(other);
                continue;
            }
            String theirs = store.get_to_str(key);
            if (!theirs.equals(Integer.toString(worldSize))) {
                return new Verdict(DataParallelException.Reason.WORLD_SIZE_MISMATCH, "rank " + other
                        + " was started with world size " + theirs + ", rank 0 with " + worldSize
                        + "; all processes need the same world size");
            }
            String differences = differences(decode(setup), decode(store.get_to_str(KEY_PREFIX + "setup/" + other)));
            if (!differences.isEmpty()) {
                return new Verdict(DataParallelException.Reason.SETUP_MISMATCH, "rank " + other
                        + " was started with another setup than rank 0: " + differences
                        + "; all processes need the same training options and data");
            }
        }
        if (!missing.isEmpty()) {
            return new Verdict(DataParallelException.Reason.RANKS_MISSING, "rank(s) " + missing + " of world size "
                    + worldSize + " did not arrive at " + master + " within " + seconds(timeout));
        }
        List<GlooAddress> addresses = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            addresses.add(GlooAddress.decode(store.get_to_str(KEY_PREFIX + "gloo/" + r)));
        }
        return checkReachable(addresses);
    }

    /**
     * Where one rank's gloo listens, as far as the others' reaching it goes: a loopback address is reached only
     * from the same network stack (the same machine, and the same network namespace), which {@code network}
     * identifies ({@link #networkIdentity}).
     *
     * @param address the address gloo binds, such as {@code 127.0.1.1}
     * @param source what the address comes from, such as {@code the address of host name 'node1'}
     * @param interfaces this rank's interfaces with their addresses, for the message
     */
    record GlooAddress(String address, String source, boolean loopback, String network, String interfaces) {

        /** The address gloo's default device falls back to (libtorch's {@code kLoopbackAddress}). */
        static final String LOOPBACK_FALLBACK = "127.0.0.1";

        /** As {@link #glooDevice} chooses: the named interface, the loopback master's address, or the host name's. */
        static GlooAddress of(String glooInterface, InetAddress masterAddress) {
            String network = networkIdentity();
            String interfaces = interfacesWithAddresses();
            if (glooInterface != null) {
                boolean loopback;
                try {
                    NetworkInterface named = NetworkInterface.getByName(glooInterface);
                    loopback = named != null && named.isLoopback();
                } catch (SocketException e) {
                    loopback = false;
                }
                return new GlooAddress(glooInterface, "network interface '" + glooInterface + "'", loopback, network,
                        interfaces);
            }
            if (masterAddress.isLoopbackAddress()) {
                return new GlooAddress(masterAddress.getHostAddress(), "the master's address", true, network,
                        interfaces);
            }
            String hostName = hostName();
            return ofHostName(hostName, resolve(hostName), GlooAddress::bindable, network, interfaces);
        }

        /**
         * This address as the device gloo made reports it ({@code Device::str()}, such as {@code tcp, pci=,
         * iface=lo, speed=-1, addr=[127.0.0.1]}): whether it is a loopback address is then the device's answer,
         * not a prediction, and where gloo's default device chose another address than the one predicted (glibc
         * sorts a host name's IPv6 addresses before its IPv4 ones, Java the other way round), that one is named.
         * Unchanged when the description names no address literal.
         */
        GlooAddress bound(String deviceDescription) {
            InetAddress device = deviceAddress(deviceDescription);
            if (device == null) {
                return this;
            }
            boolean predictedAnAddress = !source.startsWith("network interface");
            if (predictedAnAddress && !device.getHostAddress().equals(address)) {
                return new GlooAddress(device.getHostAddress(), "the address gloo chose; expected " + address + ", "
                        + source, device.isLoopbackAddress(), network, interfaces);
            }
            return new GlooAddress(address, source, device.isLoopbackAddress(), network, interfaces);
        }

        /** The address literal after {@code addr=[} in a gloo device's description, or null. */
        static InetAddress deviceAddress(String deviceDescription) {
            int start = deviceDescription.indexOf("addr=[");
            int end = start < 0 ? -1 : deviceDescription.indexOf(']', start);
            if (end < 0) {
                return null;
            }
            try {
                return InetAddress.ofLiteral(deviceDescription.substring(start + "addr=[".length(), end));
            } catch (IllegalArgumentException e) {
                return null;
            }
        }

        /**
         * Where gloo's default device listens (libtorch's {@code ProcessGroupGloo::createDefaultDevice}): the
         * first address of the host name that a socket here can bind, and where there is none (the name does not
         * resolve, or only to addresses of other machines, as a stale {@code /etc/hosts} entry has it) the
         * loopback {@code 127.0.0.1}, with no more than a warning from libtorch. That fallback is a loopback
         * address too, which other machines cannot reach, so it must be known here for {@link #checkReachable}.
         */
        static GlooAddress ofHostName(String hostName, List<InetAddress> resolved, Predicate<InetAddress> bindable,
                String network, String interfaces) {
            for (InetAddress address : resolved) {
                if (bindable.test(address)) {
                    return new GlooAddress(address.getHostAddress(), "the address of this machine's host name '"
                            + hostName + "'", address.isLoopbackAddress(), network, interfaces);
                }
            }
            List<String> addresses = resolved.stream().map(InetAddress::getHostAddress).toList();
            String why = addresses.isEmpty() ? "does not resolve"
                    : "resolves only to addresses that are not this machine's (" + String.join(", ", addresses) + ")";
            return new GlooAddress(LOOPBACK_FALLBACK, "gloo's fallback, since this machine's host name '" + hostName
                    + "' " + why, true, network, interfaces);
        }

        /** This machine's host name as gloo reads it ({@code gethostname}: on Linux, the UTS namespace's). */
        private static String hostName() {
            try {
                return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                try {
                    return InetAddress.getLocalHost().getHostName();
                } catch (UnknownHostException unresolved) {
                    // Java's message starts with the name it could not resolve ("name: name: Name or service ...").
                    String message = String.valueOf(unresolved.getMessage());
                    int colon = message.indexOf(':');
                    return colon > 0 ? message.substring(0, colon) : message;
                }
            }
        }

        /** The host name's addresses, none where it does not resolve. */
        private static List<InetAddress> resolve(String hostName) {
            if (hostName.isBlank()) {
                return List.of(); // Java would answer the loopback for "", where gethostname's caller finds nothing
            }
            try {
                return List.of(InetAddress.getAllByName(hostName));
            } catch (UnknownHostException e) {
                return List.of();
            }
        }

        /** Whether a socket here can bind the address, as gloo tries each address of the host name. */
        private static boolean bindable(InetAddress address) {
            try (ServerSocket socket = new ServerSocket()) {
                socket.bind(new InetSocketAddress(address, 0));
                return true;
            } catch (IOException | SecurityException e) {
                return false;
            }
        }

        String encoded() {
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("address", address);
            fields.put("source", source);
            fields.put("loopback", Boolean.toString(loopback));
            fields.put("network", network);
            fields.put("interfaces", interfaces);
            return encode(fields);
        }

        static GlooAddress decode(String text) {
            Map<String, String> fields = DataParallel.decode(text);
            return new GlooAddress(fields.getOrDefault("address", "?"), fields.getOrDefault("source", "?"),
                    Boolean.parseBoolean(fields.get("loopback")), fields.getOrDefault("network", ""),
                    fields.getOrDefault("interfaces", "?"));
        }

        /**
         * This process's network stack: on Linux the kernel's boot id and the network namespace, the same for
         * every process that shares a loopback and stable while they run; elsewhere the non-loopback addresses of
         * the interfaces (which ranks can see differently: an address that comes and goes, IPv6 hidden by
         * {@code -Djava.net.preferIPv4Stack}), so only where /proc cannot say.
         */
        private static String networkIdentity() {
            try {
                return "boot " + Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip() + ", "
                        + Files.readSymbolicLink(Path.of("/proc/self/ns/net"));
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                List<String> addresses = new ArrayList<>();
                try {
                    for (NetworkInterface networkInterface : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                        for (InetAddress address : Collections.list(networkInterface.getInetAddresses())) {
                            if (!address.isLoopbackAddress()) {
                                addresses.add(address.getHostAddress());
                            }
                        }
                    }
                } catch (SocketException unreadable) {
                    // Nothing to tell this stack apart by: "" for every such rank.
                }
                Collections.sort(addresses);
                return "addresses " + String.join(" ", addresses);
            }
        }
    }

    /**
     * OK, or the first rank whose gloo would listen on a loopback address that another rank, in another network
     * stack, cannot reach: gloo would otherwise wait for that connection until long after the timeout and fail
     * without saying why (a Debian host name resolves to 127.0.1.1; a rank 0 given a loopback master while the
     * others name its real address).
     */
    static Verdict checkReachable(List<GlooAddress> addresses) {
        for (int r = 0; r < addresses.size(); r++) {
            GlooAddress own = addresses.get(r);
            if (!own.loopback()) {
                continue;
            }
            for (int other = 0; other < addresses.size(); other++) {
                if (!addresses.get(other).network().equals(own.network())) {
                    return new Verdict(DataParallelException.Reason.NETWORK_INTERFACE, "rank " + r + "'s gloo "
                            + "would listen on " + own.address() + " (" + own.source() + "), a loopback address, "
                            + "which rank " + other + " on another machine (or in another network namespace) cannot "
                            + "reach; rank " + r + " needs an address the others reach (its interfaces with an "
                            + "address: " + own.interfaces() + ")");
                }
            }
        }
        return Verdict.OK;
    }

    /** One {@code key=value} line per entry, in the map's order. */
    static String encode(Map<String, String> setup) {
        StringBuilder text = new StringBuilder();
        for (Map.Entry<String, String> entry : setup.entrySet()) {
            String key = entry.getKey();
            String value = entry.getValue();
            if (key.isEmpty() || key.contains("=") || key.contains("\n") || value.contains("\n")) {
                throw new IllegalArgumentException("a setup entry cannot hold a line break or a key with '=': "
                        + key + "=" + value);
            }
            text.append(key).append('=').append(value).append('\n');
        }
        return text.toString();
    }

    static Map<String, String> decode(String text) {
        Map<String, String> setup = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int equals = line.indexOf('=');
            if (equals > 0) {
                setup.put(line.substring(0, equals), line.substring(equals + 1));
            }
        }
        return setup;
    }

    /** Such as {@code "--lr 0.01 (rank 0: 1.0E-4)"}, each entry where {@code theirs} differs; empty if none. */
    static String differences(Map<String, String> ours, Map<String, String> theirs) {
        Set<String> keys = new LinkedHashSet<>(ours.keySet());
        keys.addAll(theirs.keySet());
        List<String> differences = new ArrayList<>();
        for (String key : keys) {
            String mine = ours.get(key);
            String other = theirs.get(key);
            if (!Objects.equals(mine, other)) {
                differences.add(key + " " + (other == null ? "not given" : other) + " (rank 0: "
                        + (mine == null ? "not given" : mine) + ")");
            }
        }
        return String.join(", ", differences);
    }

    /** Whether {@code key} appeared in the store within {@code timeout}. */
    private static boolean awaitKey(TCPStore store, String key, Duration timeout) {
        try {
            store._wait(new StringVector(key), milliseconds(timeout.isZero() ? Duration.ofMillis(1) : timeout));
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static org.bytedeco.pytorch.gloo.Device glooDevice(String glooInterface, InetAddress masterAddress) {
        try {
            if (glooInterface != null) {
                return ProcessGroupGloo.createDeviceForInterface(glooInterface);
            }
            if (masterAddress.isLoopbackAddress()) {
                return ProcessGroupGloo.createDeviceForHostname(masterAddress.getHostAddress());
            }
            return ProcessGroupGloo.createDefaultDevice();
        } catch (RuntimeException e) {
            throw new DataParallelException(DataParallelException.Reason.NETWORK_INTERFACE, "gloo cannot use "
                    + (glooInterface != null ? "network interface '" + glooInterface + "'" : "this machine's address")
                    + ": " + firstLine(e) + " (this machine's interfaces with an address: " + interfacesWithAddresses()
                    + ")", e);
        }
    }

    /** Such as {@code "lo 127.0.0.1, eth0 10.0.0.2"}: what a {@code --gloo-interface} could name here. */
    public static String interfacesWithAddresses() {
        List<String> names = new ArrayList<>();
        try {
            for (NetworkInterface networkInterface : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                List<String> addresses = new ArrayList<>();
                for (InetAddress address : Collections.list(networkInterface.getInetAddresses())) {
                    addresses.add(address.getHostAddress());
                }
                if (!addresses.isEmpty()) {
                    names.add(networkInterface.getName() + " " + String.join(" ", addresses));
                }
            }
        } catch (SocketException e) {
            return "unknown: " + e.getMessage();
        }
        return names.isEmpty() ? "none" : String.join(", ", names);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    /** Seconds this process has spent in {@link #sumGradients}, waiting for the slowest rank included. */
    @Override
    public double communicationSeconds() {
        return allReduceNanos / 1e9;
    }

    /** This rank's part of a batch of {@code size}: contiguous, sizes differing by at most one. */
    @Override
    public Shard shard(int size) {
        return Shard.of(rank, worldSize, size);
    }

    /**
     * Copies rank 0's parameters and buffers into every rank's {@code network}, then seeds libtorch's generator
     * of every rank above 0 with {@link #rankSeed} of the seed it was last seeded with, the run's
     * ({@code Trainer.newNetwork} seeds it to build the network). A later start without a new seeding (a second
     * fit of the same network) leaves the rank's stream going on, as rank 0's does.
     */
    @Override
    public void startFrom(Module network) {
        List<Tensor> tensors = owned(network.parameters());
        tensors.addAll(owned(network.buffers()));
        broadcastFromRank0(tensors, "the broadcast of rank 0's parameters");
        // Every rank built the network from the run's seed, so each would draw rank 0's RReLU slopes for its
        // own shard. Rank 0 keeps its stream: it draws what one process does.
        long seed = torch.getDefaultCPUGenerator().current_seed();
        if (rank > 0 && !(reseeded && seed == reseededTo)) {
            reseededTo = rankSeed(seed, rank);
            reseeded = true;
            torch.manual_seed(reseededTo);
        }
    }

    /**
     * The seed of rank {@code rank}'s generator in a run from {@code runSeed}: the same on every start, another
     * for every rank. libtorch's generator takes the low 32 bits, where rank r adds r times an odd constant
     * (the golden ratio's bits), far from the small offsets between the seeds of consecutive runs.
     */
    public static long rankSeed(long runSeed, int rank) {
        return runSeed + rank * 0x9E3779B97F4A7C15L;
    }

    /** Copies rank 0's buffers (BatchNorm's running statistics) into every rank's {@code network}. */
    @Override
    public void shareBuffers(Module network) {
        broadcastFromRank0(owned(network.buffers()), "the broadcast of rank 0's BatchNorm statistics");
    }

    /**
     * Handles of their own to the vector's tensors. {@code get()}'s point into the vector's memory, which its
     * deallocator frees once the garbage collector finds the vector unreachable, whatever handles are left: a
     * worker crashed (SIGSEGV) reading such a handle during the broadcasts.
     */
    private static List<Tensor> owned(TensorVector vector) {
        List<Tensor> tensors = new ArrayList<>();
        for (long i = 0; i < vector.size(); i++) {
            tensors.add(new Tensor(vector.get(i)));
        }
        Reference.reachabilityFence(vector);
        return tensors;
    }

    private void broadcastFromRank0(List<Tensor> tensors, String what) {
        BroadcastOptions options = new BroadcastOptions();
        options.rootRank(0);
        for (Tensor tensor : tensors) {
            // detach(): the same memory, outside autograd, which forbids writing into a leaf that needs grad.
            wait(group.broadcast(new TensorVector(tensor.detach()), options), what);
        }
    }

    /**
     * Replaces every parameter's gradient by its sum over the ranks and returns the global batch's loss.
     * Each rank's gradients must come from its shard's loss times its share of the batch (see the class
     * comment); a rank without a shard passes a null {@code scaledShardLoss} and zero (or no) gradients.
     *
     * @param scaledShardLoss the mean loss over this rank's shard times its share, the loss its backward pass
     *     ran on; null when the shard is empty
     */
    @Override
    public double sumGradients(Module network, Tensor scaledShardLoss) {
        TensorVector parameters = network.parameters();
        TensorVector tensors = new TensorVector();
        for (long i = 0; i < parameters.size(); i++) {
            Tensor parameter = parameters.get(i);
            if (!parameter.grad().defined()) {
                parameter.mutable_grad().put(torch.zeros_like(parameter));
            }
            tensors.push_back(parameter.grad());
        }
        // The loss rides along in the same all-reduce: rank 0 reports the global batch's loss for free.
        // A copy: the all-reduce writes into it, and the loss belongs to the graph.
        Tensor lossShare = scaledShardLoss == null ? torch.zeros(1) : scaledShardLoss.detach().clone().view(1);
        tensors.push_back(lossShare);
        long start = System.nanoTime();
        wait(group.allreduce_coalesced(tensors), "the all-reduce of the gradients");
        allReduceNanos += System.nanoTime() - start;
        return lossShare.item_double();
    }

    /** The sum of {@code value} over all ranks. */
    @Override
    public long sum(long value) {
        Tensor total = Tensor.create(new long[] {value}, 1);
        wait(group.allreduce(new TensorVector(total)), "the all-reduce of a count");
        return total.item_long();
    }

    /** Returns once every rank has called it; before a rank exits, so that no rank leaves one mid-collective. */
    @Override
    public void finish() {
        wait(group.barrier(), "the final barrier");
    }

    private void wait(org.bytedeco.pytorch.Work work, String what) {
        try {
            work._wait();
        } catch (RuntimeException e) {
            throw new DataParallelException(DataParallelException.Reason.TIMED_OUT, "rank " + rank + ": " + what
                    + " with the other " + (worldSize - 1) + " rank(s) failed: another process has stopped (it "
                    + "crashed or was killed), or has not answered within the timeout of " + seconds(timeout)
                    + ". gloo: " + firstLine(e), e);
        }
    }

    private static Milliseconds milliseconds(Duration duration) {
        return new Milliseconds(duration.toMillis());
    }

    private static String seconds(Duration duration) {
        long millis = duration.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }

    /** libtorch's messages add a C++ stack trace after the first line. */
    private static String firstLine(RuntimeException e) {
        String message = String.valueOf(e.getMessage());
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
