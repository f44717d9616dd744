package io.github.arelu.examples.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Which gloo addresses the other ranks can reach: a loopback address only from the same network stack. A
 * group that breaks that is refused at the rendezvous, naming the rank, instead of waiting in gloo until long
 * after the timeout (what a Debian host name on 127.0.1.1 did across machines).
 */
class GlooAddressTest {

    private static DataParallel.GlooAddress at(String address, boolean loopback, String network) {
        return new DataParallel.GlooAddress(address, "the address of this machine's host name 'node'", loopback,
                network, "lo 127.0.0.1, eth0 " + network);
    }

    @Test
    void loopbackAddressesOfOneNetworkReachEachOther() {
        DataParallel.Verdict verdict = DataParallel.checkReachable(List.of(at("127.0.1.1", true, "net:[1] 10.0.0.1"),
                at("127.0.1.1", true, "net:[1] 10.0.0.1"), at("10.0.0.1", false, "net:[1] 10.0.0.1")));
        assertNull(verdict.reason(), verdict.message());
    }

    @Test
    void addressesThatAreNoLoopbackAreLeftToGloo() {
        DataParallel.Verdict verdict = DataParallel.checkReachable(List.of(at("10.0.0.1", false, "net:[1] 10.0.0.1"),
                at("10.0.0.2", false, "net:[1] 10.0.0.2")));
        assertNull(verdict.reason(), verdict.message());
    }

    @Test
    void aLoopbackAddressThatAnotherMachineWouldNeedIsRefusedNamingTheRank() {
        DataParallel.Verdict verdict = DataParallel.checkReachable(List.of(at("10.0.0.1", false, "net:[1] 10.0.0.1"),
                at("127.0.1.1", true, "net:[1] 10.0.0.2")));
        assertEquals(DataParallelException.Reason.NETWORK_INTERFACE, verdict.reason());
        assertEquals("rank 1's gloo would listen on 127.0.1.1 (the address of this machine's host name 'node'), a "
                + "loopback address, which rank 0 on another machine (or in another network namespace) cannot reach; "
                + "rank 1 needs an address the others reach (its interfaces with an address: lo 127.0.0.1, eth0 "
                + "net:[1] 10.0.0.2)", verdict.message());
    }

    @Test
    void aHostNameThatDoesNotResolveMeansGloosLoopbackFallbackWhichAnotherMachineCannotReach() {
        DataParallel.GlooAddress unresolved = DataParallel.GlooAddress.ofHostName("node1", List.of(), address -> true,
                "net:[2] 10.0.0.2", "lo 127.0.0.1, eth0 10.0.0.2");
        assertEquals("127.0.0.1", unresolved.address());
        assertTrue(unresolved.loopback());
        assertEquals("gloo's fallback, since this machine's host name 'node1' does not resolve", unresolved.source());
        DataParallel.Verdict verdict = DataParallel.checkReachable(List.of(at("10.0.0.1", false, "net:[1] 10.0.0.1"),
                unresolved));
        assertEquals(DataParallelException.Reason.NETWORK_INTERFACE, verdict.reason());
        assertEquals("rank 1's gloo would listen on 127.0.0.1 (gloo's fallback, since this machine's host name "
                + "'node1' does not resolve), a loopback address, which rank 0 on another machine (or in another "
                + "network namespace) cannot reach; rank 1 needs an address the others reach (its interfaces with an "
                + "address: lo 127.0.0.1, eth0 10.0.0.2)", verdict.message());
    }

    @Test
    void aHostNameOfOtherMachinesAddressesAlsoFallsBackToTheLoopback() throws Exception {
        // A stale /etc/hosts entry: the name resolves, but no socket here can bind its addresses.
        List<InetAddress> resolved = List.of(InetAddress.getByName("192.0.2.7"), InetAddress.getByName("192.0.2.8"));
        DataParallel.GlooAddress stale = DataParallel.GlooAddress.ofHostName("node1", resolved, address -> false,
                "net:[2]", "eth0 10.0.0.2");
        assertEquals("127.0.0.1", stale.address());
        assertTrue(stale.loopback());
        assertEquals("gloo's fallback, since this machine's host name 'node1' resolves only to addresses that are "
                + "not this machine's (192.0.2.7, 192.0.2.8)", stale.source());
    }

    @Test
    void aHostNameListensOnItsFirstAddressThatBinds() throws Exception {
        List<InetAddress> resolved = List.of(InetAddress.getByName("192.0.2.7"), InetAddress.getByName("10.0.0.2"),
                InetAddress.getByName("127.0.1.1"));
        DataParallel.GlooAddress routable = DataParallel.GlooAddress.ofHostName("node1", resolved,
                address -> !address.getHostAddress().equals("192.0.2.7"), "net:[2]", "eth0 10.0.0.2");
        assertEquals("10.0.0.2", routable.address());
        assertFalse(routable.loopback());
        assertEquals("the address of this machine's host name 'node1'", routable.source());
        DataParallel.GlooAddress debian = DataParallel.GlooAddress.ofHostName("node1",
                List.of(InetAddress.getByName("127.0.1.1")), address -> true, "net:[2]", "eth0 10.0.0.2");
        assertEquals("127.0.1.1", debian.address());
        assertTrue(debian.loopback());
    }

    @Test
    void thisMachinesHostNameGivesAnAddressThatBinds() throws Exception {
        DataParallel.GlooAddress own = DataParallel.GlooAddress.of(null, InetAddress.getByName("192.0.2.1"));
        if (own.source().startsWith("gloo's fallback")) {
            assertEquals("127.0.0.1", own.address());
        } else {
            try (ServerSocket socket = new ServerSocket()) {
                socket.bind(new InetSocketAddress(InetAddress.getByName(own.address()), 0));
            }
            assertEquals(InetAddress.getByName(own.address()).isLoopbackAddress(), own.loopback());
        }
    }

    @Test
    void theDevicesOwnAddressDecidesWhetherItIsALoopbackAddress() throws Exception {
        assertEquals(InetAddress.getByName("127.0.0.1"),
                DataParallel.GlooAddress.deviceAddress("tcp, pci=, iface=lo, speed=-1, addr=[127.0.0.1]"));
        assertEquals(InetAddress.getByName("2001:db8::5"), DataParallel.GlooAddress.deviceAddress("addr=[2001:db8::5]"));
        assertNull(DataParallel.GlooAddress.deviceAddress("tcp, pci=, iface=lo"));
        assertNull(DataParallel.GlooAddress.deviceAddress("addr=[node1]"), "a name, not an address literal");

        // glibc lists a host name's IPv6 address first where Java lists its IPv4 one: gloo's choice counts.
        DataParallel.GlooAddress predicted = at("127.0.1.1", true, "net:[2]");
        DataParallel.GlooAddress chosen = predicted.bound("tcp, pci=, iface=eth0, speed=-1, addr=[2001:db8::5]");
        assertEquals("2001:db8:0:0:0:0:0:5", chosen.address());
        assertFalse(chosen.loopback());
        assertEquals("the address gloo chose; expected 127.0.1.1, the address of this machine's host name 'node'",
                chosen.source());
        // The same address: only the loopback answer is the device's.
        assertEquals(predicted, predicted.bound("tcp, addr=[127.0.1.1]"));
        assertEquals(predicted, predicted.bound("tcp, no address"));
        DataParallel.GlooAddress lo = new DataParallel.GlooAddress("lo", "network interface 'lo'", false, "net:[2]",
                "lo 127.0.0.1").bound("tcp, pci=, iface=lo, speed=-1, addr=[127.0.0.1]");
        assertEquals("lo", lo.address());
        assertTrue(lo.loopback());
    }

    @Test
    void travelsThroughTheStoreUnchanged() {
        DataParallel.GlooAddress address = at("127.0.1.1", true, "net:[4026531840] 10.0.0.2 fe80::1%eth0");
        assertEquals(address, DataParallel.GlooAddress.decode(address.encoded()));
    }

    @Test
    void saysWhereTheAddressComesFrom() throws Exception {
        DataParallel.GlooAddress master = DataParallel.GlooAddress.of(null, InetAddress.getByName("127.0.0.1"));
        assertTrue(master.loopback());
        assertEquals("127.0.0.1", master.address());
        assertEquals("the master's address", master.source());
        DataParallel.GlooAddress lo = DataParallel.GlooAddress.of("lo", InetAddress.getByName("192.0.2.1"));
        assertTrue(lo.loopback());
        assertEquals("network interface 'lo'", lo.source());
        DataParallel.GlooAddress missing = DataParallel.GlooAddress.of("nosuch0", InetAddress.getByName("192.0.2.1"));
        assertFalse(missing.loopback());
        // This process's network: the same for two calls, and never empty on Linux.
        assertEquals(master.network(), lo.network());
        assertFalse(master.network().isBlank());
    }
}
