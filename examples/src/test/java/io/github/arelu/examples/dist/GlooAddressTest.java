package io.github.arelu.examples.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
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
